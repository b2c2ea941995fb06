import { CHECKSUM_BYTES } from '../checksum.js'
import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import { checkDocName, snapshotKey } from '../keys.js'
import { countLogRecord, emptyMeta, setSummary } from '../meta.js'
import { recordKey, type StoredDoc } from './storedDoc.js'
import { sameStateVector, type WholeState } from './wholeState.js'

/** What became of a document offered to {@link adoptDoc}. */
export type AdoptOutcome =
  /** Stored as it came, in one commit with the others offered at the same time. */
  | 'stored'
  /** This store already holds the document (or awaits its repair): nothing was written. */
  | 'held'

/**
 * Stores a document this store never held exactly as another store holds it: its records keep
 * their keys (so their receive times) and checksums, its meta record is counted from them, and
 * the sender's digest and state vector are kept when the records' own state vector equals it.
 * Documents offered in the same tick share one group commit. The caller has verified the records
 * (`payloadsOf`) and inspected them whole (`inspectWholeState`); whether the store holds the
 * document is decided inside the commit, so an append racing with it is never overwritten.
 */
export async function adoptDoc(
  commit: GroupCommit,
  doc: StoredDoc,
  state: WholeState,
): Promise<AdoptOutcome> {
  const { name } = doc
  checkDocName(name)
  const meta = emptyMeta()
  for (const { suffix, value } of doc.records) {
    const bytes = value.length - CHECKSUM_BYTES
    if (recordKey(name, suffix) === snapshotKey(name)) meta.snapshotBytes = bytes
    else countLogRecord(meta, bytes)
  }
  if (doc.digest && doc.stateVector && sameStateVector(doc.stateVector, state.stateVector))
    setSummary(meta, doc.digest, state.stateVector)
  let outcome: AdoptOutcome = 'held'
  await commit.enqueue({
    name,
    run: async (batch) => {
      if (commit.quarantined.has(name) || (await batch.meta(name)) !== null) return
      batch.create(name, { meta, gen: commit.nextGen() })
      for (const { suffix, value } of doc.records) batch.put(recordKey(name, suffix), value)
      batch.appended.add(name)
      batch.changedContent.add(name)
      outcome = 'stored'
    },
  })
  return outcome
}
