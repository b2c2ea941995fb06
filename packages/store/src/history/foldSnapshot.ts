import * as Y from 'yjs'
import { withoutFormattingCleanup } from '../formattingCleanup.js'

/**
 * A new snapshot for a document whose history before `start` (the Yjs snapshot of the state at
 * the start of the window) is dropped: content deleted by then is garbage-collected, while content
 * deleted later stays (the history still needs it). The document's state (state vector, delete
 * set, content) is unchanged; only the bytes of what fell out of the window leave. `doc` is the
 * history doc (`gc: false`) of the current snapshot; it is split at the snapshot's boundaries.
 */
export function foldSnapshot(doc: Y.Doc, start: Y.Snapshot): Uint8Array {
  // The state at the window start, garbage-collected (a Y.Doc collects what a transaction deletes)...
  const base = withoutFormattingCleanup(new Y.Doc({ guid: 'rhizome-fold' }))
  try {
    Y.createDocFromSnapshot(doc, start, base)
    // ...then everything after it applied without collection: the deletions made inside the window
    // keep their content. `gc` is read at the end of each transaction, so switching it here is enough.
    base.gc = false
    Y.applyUpdate(base, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(start.sv)))
    return Y.encodeStateAsUpdate(base)
  } finally {
    base.destroy()
  }
}
