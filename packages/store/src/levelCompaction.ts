import type { AnyLevel } from './records.js'

/**
 * Asks LevelDB to compact the keys from `gte` to `lt`, so that deleted values leave the files on
 * disk (a delete only writes a tombstone). Resolves once done; a no-op on backends without
 * `compactRange` (memory-level, browser-level), whose deletes free the bytes already.
 *
 * `gte + U+0000` must lie inside the range and be a key the store never writes (document names
 * hold no U+0000): a put and a delete of it go first. LevelDB's CompactRange compacts each level
 * into the next and never the last level itself, so a value and its tombstone flushed into the
 * same bottom-level file would stay on disk; a fresh entry above them in the range makes the
 * compaction rewrite that file.
 */
export async function compactKeyRange(db: AnyLevel, range: { gte: string; lt: string }): Promise<void> {
  const level = db as AnyLevel & {
    compactRange?: (start: string, end: string, options: object) => Promise<void>
  }
  if (typeof level.compactRange !== 'function' || db.status !== 'open') return
  const marker = range.gte + '\u0000'
  await db.batch<string, Uint8Array>(
    [
      { type: 'put', key: marker, value: new Uint8Array(0) },
      { type: 'del', key: marker },
    ],
    { keyEncoding: 'utf8', valueEncoding: 'view' },
  )
  await level.compactRange(range.gte, range.lt, { keyEncoding: 'utf8' })
}
