import { digestOfDoc, ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'
import { UpdateGate } from './UpdateGate.js'

/** A document's replica digest (docs/PROTOCOL.md section 1) and state vector. */
export interface StandaloneSummary {
  digest: string
  stateVector: Uint8Array
}

/**
 * The check of `integratesAlone` (UpdateGate.ts: `update` applied to an empty scratch document as
 * the relay would, cleanup, garbage collection and nesting limit included) that also returns what
 * the scratch document then holds: its digest and state vector. A relay storing a document it never
 * held as this one update records them with it (`DocStore.noteFirstDigest`), so that its catalog
 * need not read and merge the new document once more (a refill stores thousands).
 * @returns null when part of the update waits for structs it does not contain.
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot apply it.
 */
export function standaloneSummary(update: Uint8Array): StandaloneSummary | null {
  const doc = new Y.Doc({ guid: 'rhizome-check' })
  try {
    if (new UpdateGate(doc, () => {}).apply(update, null).pending !== null) return null
    return { digest: digestOfDoc(doc), stateVector: Y.encodeStateVector(doc) }
  } finally {
    doc.destroy()
  }
}

/**
 * {@link standaloneSummary} for an update that must apply whole.
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot apply it or part of it would wait.
 */
export function wholeSummary(update: Uint8Array): StandaloneSummary {
  const summary = standaloneSummary(update)
  if (summary === null) {
    throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update depends on structs it does not contain')
  }
  return summary
}
