/**
 * A Yjs update (v1) that changes nothing: no structs, an empty delete set. It is what
 * `Y.encodeStateAsUpdate(new Y.Doc())` encodes, and what a document nobody holds diffs to.
 */
export const EMPTY_UPDATE: Uint8Array = new Uint8Array([0, 0])

/** A Yjs state vector with no clients: asks for a whole document in a sync step1. */
export const EMPTY_STATE_VECTOR: Uint8Array = new Uint8Array([0])
