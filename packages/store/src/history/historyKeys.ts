/**
 * Keys of a document's history index: chunks of effects (see `effects.ts`), outside the document's
 * `d:` range so that reads of its current state never see them.
 *
 * ```
 * h:<doc>\0x<first><last><tail>     exact chunk: the effects of one compaction slice, one per receive ms
 * h:<doc>\0h<hour><last>            hourly chunk: one effect for the hour starting at <hour>
 * ```
 *
 * Times are fixed-width base 36 (11 digits cover every safe integer), so chunks sort by their first
 * time; `<last>` is the latest time a chunk covers, so that purges can pick chunks from their keys
 * alone. `<tail>` (the key tail of the chunk's first log record) keeps exact chunk keys unique.
 */

const HISTORY = 'h:'
const SEP = '\u0000'
const AFTER_SEP = '\u0001'
const WIDTH = 11
/** Kind of an exact chunk. */
export const EXACT = 'x'
/** Kind of an hourly chunk. */
export const HOURLY = 'h'
/** Kind of a chunk key. */
export type ChunkKind = typeof EXACT | typeof HOURLY

function time36(at: number): string {
  return at.toString(36).padStart(WIDTH, '0')
}

/** Key of an exact chunk covering receive times `first` to `last`. */
export function exactChunkKey(name: string, first: number, last: number, tail: string): string {
  return HISTORY + name + SEP + EXACT + time36(first) + time36(last) + tail
}

/** Key of the hourly chunk of the hour starting at `hour`, whose latest receive time is `last`. */
export function hourlyChunkKey(name: string, hour: number, last: number): string {
  return HISTORY + name + SEP + HOURLY + time36(hour) + time36(last)
}

/** What a chunk key tells: its kind and the first and latest receive times it covers. */
export interface ChunkKeyInfo {
  kind: ChunkKind
  first: number
  last: number
}

/** Parses a chunk key of document `name`; `null` when it is not one. */
export function parseChunkKey(name: string, key: string): ChunkKeyInfo | null {
  const at = HISTORY.length + name.length + SEP.length
  const kind = key[at]
  if (kind !== EXACT && kind !== HOURLY) return null
  const first = Number.parseInt(key.slice(at + 1, at + 1 + WIDTH), 36)
  const last = Number.parseInt(key.slice(at + 1 + WIDTH, at + 1 + 2 * WIDTH), 36)
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) return null
  return { kind, first, last }
}

/** The `<tail>` of an exact chunk key of document `name` (see {@link exactChunkKey}). */
export function tailOfChunkKey(name: string, key: string): string {
  return key.slice(HISTORY.length + name.length + SEP.length + 1 + 2 * WIDTH)
}

/** Range (`gte`/`lt`) of every history key of one document. */
export function historyRange(name: string): { gte: string; lt: string } {
  return { gte: HISTORY + name + SEP, lt: HISTORY + name + AFTER_SEP }
}

/** Range (`gte`/`lt`) of the chunks of one kind of one document. */
export function chunkRange(name: string, kind: ChunkKind): { gte: string; lt: string } {
  const prefix = HISTORY + name + SEP + kind
  return { gte: prefix, lt: prefix + '\uffff' }
}
