import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { historyRange } from './history/historyKeys.js'
import { changeKey, docRange, metaKey, repairKey } from './keys.js'
import { compactKeyRange } from './levelCompaction.js'
import type { AnyLevel } from './records.js'

/** A range holding the one key `key` (and room for `compactKeyRange`'s marker after it). */
function only(key: string): { gte: string; lt: string } {
  return { gte: key, lt: key + '\u0000\u0000' }
}

/**
 * Removes every record of a document in one atomic durable batch: its snapshot and log, its
 * history index, its meta record, its change record and its repair marker; then compacts those key
 * ranges (where the backend can) so that the bytes leave the disk. Unknown documents are a no-op.
 * The caller holds the document exclusively against compactions and repairs, and appends nothing
 * to it meanwhile (a deleted document receives no writes): an append committed after the purge
 * creates the document anew.
 */
export async function purgeDocument(db: AnyLevel, commit: GroupCommit, name: string): Promise<void> {
  let seq = 0
  await commit.enqueue({
    name,
    run: async (batch) => {
      const staged = await batch.meta(name)
      // Read inside the commit: every earlier commit is durable, so nothing written before escapes.
      for (const range of [docRange(name), historyRange(name)]) {
        for (const key of await db.keys<string>({ ...range, keyEncoding: 'utf8' }).all()) batch.del(key)
      }
      if (staged === null) return
      seq = staged.meta.seq
      if (seq > 0) batch.del(changeKey(seq))
      batch.clearCorrupt(name)
      batch.drop(name)
    },
  })
  const ranges = [docRange(name), historyRange(name), only(metaKey(name)), only(repairKey(name))]
  if (seq > 0) ranges.push(only(changeKey(seq)))
  for (const range of ranges) await compactKeyRange(db, range)
}
