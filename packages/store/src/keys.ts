/**
 * Key layout of a Rhizome store. All keys are UTF-8 strings; LevelDB orders them bytewise.
 *
 * ```
 * s:id                              the store id
 * s:docs                            how many documents are stored (so opening need not count them)
 * m:<doc>                           per-document meta (counts, sizes, cached digest)
 * d:<doc>\0s                        the document's compacted snapshot
 * d:<doc>\0l<session><counter>      one log record (one Yjs update); `@<time>` follows (history/receiveTime.ts)
 * h:<doc>\0...                      the document's history index (history/historyKeys.ts)
 * r:<doc>                           repair marker: the document holds a record that failed its checksum
 * c:<seq>                           change record: the document whose last content change got this seq
 * l:<key>                           local state of the store's owner (device checkpoints), not a document
 * t:<doc>                           tombstone record: deleted or live, and since when (Tombstones.ts)
 * ```
 *
 * Change records are keyed by a fixed-width base-36 sequence number, so their byte order is their
 * numeric order; each document has at most one (its latest), so listing the changes since a
 * sequence number costs what changed, not what is stored.
 *
 * The snapshot and the log share the `d:<doc>\0` range so that one iterator (which reads from an
 * implicit snapshot of the database) sees a consistent pair even while a compaction commits.
 * Log keys need only be unique, not ordered: Yjs updates commute. A random per-open session id
 * plus a counter makes them unique without reading anything first.
 */

/** Key of the store id record. */
export const STORE_ID_KEY = 's:id'

/** Key of the document count record (kept by every commit that creates or drops documents). */
export const DOC_COUNT_KEY = 's:docs'

const META = 'm:'
const DATA = 'd:'
const REPAIR = 'r:'
const SEP = '\u0000'
const AFTER_SEP = '\u0001'

/** Throws a TypeError when `name` cannot be used as a document name in keys. */
export function checkDocName(name: string): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError('document name must be a non-empty string')
  if (name.includes(SEP)) throw new TypeError('document name must not contain U+0000')
}

/** Key of a document's meta record. */
export function metaKey(name: string): string {
  return META + name
}

/** Document name of a meta key (inverse of {@link metaKey}). */
export function nameOfMetaKey(key: string): string {
  return key.slice(META.length)
}

/** Range (`gt`/`lt`) of meta keys strictly after document `after` (all meta keys when undefined). */
export function metaRange(after?: string): { gt: string; lt: string } {
  return { gt: after === undefined ? META : META + after, lt: 'm;' }
}

/** Range (`gte`/`lt`) of meta keys from document `name` on, `name` included. */
export function metaRangeFrom(name: string): { gte: string; lt: string } {
  return { gte: META + name, lt: 'm;' }
}

/** Key of a document's compacted snapshot. */
export function snapshotKey(name: string): string {
  return DATA + name + SEP + 's'
}

/** Key of one log record: `session` is the per-open random id, `counter` increases per append. */
export function logKey(name: string, session: string, counter: number): string {
  return DATA + name + SEP + 'l' + session + counter.toString(36).padStart(11, '0')
}

/** True when `key` (inside the document's range) is a log record rather than the snapshot. */
export function isLogKey(name: string, key: string): boolean {
  return key.charCodeAt(DATA.length + name.length + 1) === 0x6c // 'l'
}

/** Range (`gt`/`lt`) of every document's data records after key `after` (all when undefined). */
export function dataRange(after?: string): { gt: string; lt: string } {
  return { gt: after ?? DATA, lt: 'd;' }
}

/** Document name of a data key (snapshot or log record). */
export function nameOfDataKey(key: string): string {
  return key.slice(DATA.length, key.indexOf(SEP, DATA.length))
}

/** Range (`gte`/`lt`) of all snapshot and log keys of one document. */
export function docRange(name: string): { gte: string; lt: string } {
  return { gte: DATA + name + SEP, lt: DATA + name + AFTER_SEP }
}

/** Key of a document's repair marker. */
export function repairKey(name: string): string {
  return REPAIR + name
}

/** Document name of a repair-marker key (inverse of {@link repairKey}). */
export function nameOfRepairKey(key: string): string {
  return key.slice(REPAIR.length)
}

/** Range (`gt`/`lt`) of all repair-marker keys. */
export function repairRange(): { gt: string; lt: string } {
  return { gt: REPAIR, lt: 'r;' }
}

const CHANGE = 'c:'
const LOCAL = 'l:'
const SEQ_WIDTH = 11 // 36^11 > 2^53

/** Key of the change record of sequence number `seq` (a positive safe integer). */
export function changeKey(seq: number): string {
  return CHANGE + seq.toString(36).padStart(SEQ_WIDTH, '0')
}

/** Sequence number of a change key (inverse of {@link changeKey}); NaN for a malformed key. */
export function seqOfChangeKey(key: string): number {
  return Number.parseInt(key.slice(CHANGE.length), 36)
}

/** Range (`gt`/`lt`) of the change records after sequence number `seq`. */
export function changeRange(seq: number): { gt: string; lt: string } {
  return { gt: seq > 0 ? changeKey(seq) : CHANGE, lt: 'c;' }
}

/** Key of a local-state entry. */
export function localKey(key: string): string {
  return LOCAL + key
}

const TOMBSTONE = 't:'

/** Key of a document's tombstone record. */
export function tombstoneKey(name: string): string {
  return TOMBSTONE + name
}

/** Document name of a tombstone key (inverse of {@link tombstoneKey}). */
export function nameOfTombstoneKey(key: string): string {
  return key.slice(TOMBSTONE.length)
}

/** Range (`gt`/`lt`) of all tombstone keys. */
export function tombstoneRange(): { gt: string; lt: string } {
  return { gt: TOMBSTONE, lt: 't;' }
}
