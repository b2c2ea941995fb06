import type * as Y from 'yjs'

/**
 * Keeps Yjs from cleaning up Y.Text formatting on its own in `doc`. After a transaction that
 * applied an update, Yjs deletes format items it finds redundant in every typed Y.Text (nested
 * texts and XML texts always, root texts once `getText` was called), as a change of that replica
 * only. A scratch document that stands for what the store received must not do that: its state
 * (delete set, hence digest) would differ from the records', and a revert computed on it would
 * miss those items. Returns `doc`.
 */
export function withoutFormattingCleanup(doc: Y.Doc): Y.Doc {
  doc.on('afterTransaction', docOnAfterTransaction)
  return doc
}

// Runs before the cleanup, which Yjs schedules after the `afterTransaction` handlers.
function docOnAfterTransaction(tr: Y.Transaction): void {
  ;(tr as unknown as { _needFormattingCleanup: boolean })._needFormattingCleanup = false
}
