import * as awarenessProtocol from 'y-protocols/awareness'
import { decodeAwarenessUpdate, encodeAwarenessUpdate } from './awarenessUpdate.js'
import type { DocClient, RelayDoc } from './RelayDoc.js'

/** Largest awareness update one message may carry. */
export const MAX_AWARENESS_BYTES = 64 * 1024
/** Awareness client ids one socket (or one session, per document) may control. */
export const MAX_AWARENESS_STATES = 16

/**
 * Applies an AWARENESS update a client sent for `doc` (a document socket, or a device session's
 * open document): validated whole before any of it is applied, since a state the relay could not
 * re-encode would fail every later socket of the document (4500) long after its sender left; and
 * only the entries of client ids this client introduced, since another client's presence is not
 * its to rewrite or remove (docs/PROTOCOL.md section 3).
 * @throws RhizomeError PROTOCOL_TOO_LARGE (4413), PROTOCOL_MALFORMED (4400) for an invalid update,
 *   RATE_LIMITED (4429) past {@link MAX_AWARENESS_STATES} ids.
 */
export function applyClientAwareness(doc: RelayDoc, client: DocClient, update: Uint8Array): void {
  const entries = decodeAwarenessUpdate(update, { maxBytes: MAX_AWARENESS_BYTES })
  const { awareness, awarenessOwners } = doc
  const allowed = awarenessOwners.admit(client, entries, awareness.meta, MAX_AWARENESS_STATES)
  if (allowed.length === 0) return
  const filtered = allowed.length === entries.length ? update : encodeAwarenessUpdate(allowed)
  awarenessProtocol.applyAwarenessUpdate(awareness, filtered, client)
}
