import type { AnyLevel } from './records.js'

/**
 * Asks LevelDB to compact the keys from `gte` to `lt`, so that deleted values leave the files on
 * disk (a delete only writes a tombstone). Resolves once done; a no-op on backends without
 * `compactRange` (memory-level, browser-level), whose deletes free the bytes already.
 */
export async function compactKeyRange(db: AnyLevel, range: { gte: string; lt: string }): Promise<void> {
  const level = db as AnyLevel & {
    compactRange?: (start: string, end: string, options: object) => Promise<void>
  }
  if (typeof level.compactRange !== 'function' || db.status !== 'open') return
  await level.compactRange(range.gte, range.lt, { keyEncoding: 'utf8' })
}
