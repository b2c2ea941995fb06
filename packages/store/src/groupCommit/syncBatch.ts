import { type AnyLevel, SYNC_BATCH } from '../records.js'
import type { RawOperation } from './StagedBatch.js'

/**
 * Writes `ops` in one atomic batch with `sync: true` and resolves once it is durable (what
 * `db.batch(ops, SYNC_BATCH)` promises).
 *
 * Every op of a group commit already has a string key and a `Uint8Array` value, and most backends
 * (classic-level on Node) store exactly those formats. Then there is nothing for abstract-level's
 * public `batch()` to do but clone, validate and re-encode each op, which measured as a large part
 * of a relay's main-thread time per commit (more than the fsync itself for 100 ops). Such a
 * database gets the ops through its implementation's `_batch` (the abstract-level implementer API
 * that `batch()` ends in), as `batch()` would pass them. Any database where `batch()` does more
 * (prewrite hooks, `write` listeners, a sublevel prefix, formats it transcodes) goes through
 * `batch()`.
 * @throws whatever the database's batch rejects with (nothing is written then).
 */
export function writeSyncBatch(db: AnyLevel, ops: RawOperation[]): Promise<void> {
  if (passesOpsThrough(db)) return (db as unknown as NativeBatch)._batch(ops, SYNC_BATCH)
  return db.batch<string, Uint8Array>(ops, SYNC_BATCH)
}

/** What abstract-level has at run time but its types do not declare. */
interface NativeBatch {
  _batch(ops: RawOperation[], options: typeof SYNC_BATCH): Promise<void>
  /** `null` for a root database, the parent for a sublevel (whose keys get a prefix). */
  parent?: unknown
  /** True while no prewrite hook is installed. */
  hooks: { prewrite: { noop?: boolean } }
}

/** True when abstract-level's `batch()` would hand `ops` to `_batch` unchanged (but cloned). */
function passesOpsThrough(db: AnyLevel): boolean {
  const native = db as unknown as Partial<NativeBatch>
  return (
    db.status === 'open' &&
    native.parent === null &&
    // The backend stores these formats itself: encoding a string key or a Uint8Array value to them is
    // the identity, so the ops are what `batch()` would pass on.
    db.keyEncoding('utf8').format === 'utf8' &&
    db.valueEncoding('view').format === 'view' &&
    native.hooks?.prewrite.noop === true &&
    db.listenerCount('write') === 0 &&
    typeof native._batch === 'function'
  )
}
