/**
 * The Yjs v1 update of a document with no content: zero structs and an empty delete set, the bytes
 * `Y.encodeStateAsUpdate(new Y.Doc())` gives. Applying it changes nothing, so it is the payload of
 * a SYNC step2 that has nothing to send and of a probe whose only purpose is to be ACKed
 * (`docs/PROTOCOL.md` section 3).
 *
 * Shared by every caller: never write into it (typed arrays cannot be frozen); copy it to own it.
 */
export const EMPTY_UPDATE: Uint8Array = new Uint8Array([0, 0])

/**
 * The state vector of a document with no content (no client has written anything), the bytes
 * `Y.encodeStateVector(new Y.Doc())` gives. A SYNC step1 carrying it asks for the whole document.
 *
 * Shared by every caller: never write into it; copy it to own it.
 */
export const EMPTY_STATE_VECTOR: Uint8Array = new Uint8Array([0])

/** True for an update that changes nothing in the form {@link EMPTY_UPDATE} has (no structs, no deletes). */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}
