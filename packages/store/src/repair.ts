import { encodeChecked } from './checksum.js'
import type { DocReader } from './DocReader.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { snapshotKey } from './keys.js'
import { clearSummary, countCompacted, emptyMeta, setSummary } from './meta.js'
import { type AnyLevel, readDocRecords } from './records.js'
import { type Merged, mergeRecords } from './yjsMerge.js'

/**
 * Repairs a document from `update`, its full state from a healthy peer: rewrites it as one snapshot
 * of its still-valid records merged with `update`, drops every log record and damaged record read,
 * and clears its repair marker, in one atomic batch. Creates the document if it is unknown. The
 * caller holds the document exclusively against compactions and other repairs.
 */
export async function repairFromPeer(
  db: AnyLevel,
  commit: GroupCommit,
  reader: DocReader,
  name: string,
  update: Uint8Array,
): Promise<void> {
  const entry = await reader.metaEntry(name)
  const gen = entry?.gen ?? null
  const records = await readDocRecords(db, name)
  let merged: Merged
  try {
    merged = mergeRecords(records, update)
  } catch {
    // A local record Yjs cannot apply: the peer's state alone replaces what is here.
    merged = mergeRecords(null, update)
  }
  const dropKeys = [...(records?.logKeys ?? []), ...(records?.badKeys ?? [])]
  const read = { logCountRead: records?.logCountRead ?? 0, logBytesRead: records?.logBytesRead ?? 0 }
  await commit.enqueue({
    name,
    run: async (batch) => {
      const staged = await batch.meta(name)
      const unchanged = staged === null ? gen === null : staged.gen === gen
      const target = staged ?? batch.create(name, { meta: emptyMeta(), gen: 0 })
      for (const key of dropKeys) batch.del(key)
      const key = snapshotKey(name)
      batch.put(key, encodeChecked(key, merged.snapshot))
      countCompacted(target.meta, read, merged.snapshot.length)
      // The merged digest describes the state read; an append committed since makes it stale.
      if (unchanged) setSummary(target.meta, merged.digest, merged.stateVector)
      else clearSummary(target.meta)
      target.gen = commit.nextGen()
      batch.touch(name)
      batch.clearCorrupt(name)
      batch.changedContent.add(name)
    },
  })
}
