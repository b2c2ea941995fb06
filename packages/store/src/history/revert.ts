import { EMPTY_UPDATE } from '@rhizome/protocol'
import * as Y from 'yjs'
import { withoutFormattingCleanup } from '../formattingCleanup.js'

/** Origin of the replayed changes, the only one the undo manager tracks. */
const REPLAYED = Symbol('rhizome-revert-replayed')

/**
 * One forward Yjs v1 update that, applied to the current document, makes its content equal to
 * its content at an earlier moment, for every shared type (text, maps, arrays, XML, nested types).
 * Nothing is rewritten: the update deletes what was inserted since and inserts copies of what was
 * deleted since, as a new client, so it replicates like any edit, edits concurrent with it merge
 * with it, and it can itself be reverted.
 *
 * How: on a scratch Y.Doc that keeps deleted content, the state at the target is applied, then the
 * later changes as one transaction tracked by a `Y.UndoManager` over the whole document; undoing
 * that transaction produces the update.
 *
 * @param stateAtTarget - the document as of the target moment (for example `DocStore.stateAt`).
 * @param later - everything the document received after it, with the content deleted since (for
 * example `DocStore.updatesSince`, or the individual updates): one update or a list.
 * @returns the reverting update; an update that changes nothing when nothing changed since.
 * @throws Error from Yjs when an update does not decode.
 */
export function revertUpdate(
  stateAtTarget: Uint8Array,
  later: Uint8Array | readonly Uint8Array[],
): Uint8Array {
  const updates = later instanceof Uint8Array ? [later] : later
  // Formatting as received: format items Yjs would delete here on its own are live in the real
  // document, and the undo would leave them there as stray formatting.
  const doc = withoutFormattingCleanup(new Y.Doc({ gc: false, guid: 'rhizome-revert' }))
  try {
    Y.applyUpdate(doc, stateAtTarget)
    // Scope = the document: root types that only the later changes create are covered as well.
    const undo = new Y.UndoManager(doc, { trackedOrigins: new Set([REPLAYED]), captureTimeout: 0 })
    Y.transact(
      doc,
      () => {
        for (const update of updates) Y.applyUpdate(doc, update)
      },
      REPLAYED,
    )
    // The undo runs as one transaction: its update event carries exactly what it inserted and deleted.
    let reverting: Uint8Array | null = null
    doc.on('update', (update: Uint8Array) => {
      reverting = update
    })
    undo.undo()
    undo.destroy()
    // Nothing to undo: the Yjs v1 update that changes nothing.
    return reverting ?? EMPTY_UPDATE
  } finally {
    doc.destroy()
  }
}
