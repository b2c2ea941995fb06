import { digestOfDoc, ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'
import { NestingLimit } from './NestingLimit.js'

/** A document's replica digest (docs/PROTOCOL.md section 1) and state vector. */
export interface StandaloneSummary {
  digest: string
  stateVector: Uint8Array
}

/**
 * The check of an update that may become a document of its own (a pulled or pushed document this
 * relay never held, a repair): `update` applied to an empty scratch document as the relay would
 * (cleanup, garbage collection and nesting limit included), returning what the scratch document
 * then holds: its digest and state vector. A relay storing a document it never
 * held as this one update records them with it (`DocStore.noteFirstDigest`), so that its catalog
 * need not read and merge the new document once more (a refill stores thousands).
 * @returns null when part of the update waits for structs it does not contain.
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot apply it.
 */
export function standaloneSummary(update: Uint8Array): StandaloneSummary | null {
  const doc = new Y.Doc({ guid: 'rhizome-check' })
  try {
    // What UpdateGate.apply does, without what a scratch document does not need: no decoding pass
    // first (the document is thrown away if Yjs fails halfway), and every client of the document
    // is one the update added.
    try {
      Y.transact(doc, (tr) => {
        Y.applyUpdate(doc, update)
        try {
          new NestingLimit().check(doc, tr, doc.store.clients.keys())
        } catch (err) {
          // As in UpdateGate: the cleanup would garbage-collect the refused types recursively.
          doc.gc = false
          throw err
        }
      })
    } catch (cause) {
      if (cause instanceof RhizomeError) throw cause
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be applied', { cause })
    }
    if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) return null
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

/**
 * Checks that Yjs applies `update` whole to an empty document (see {@link standaloneSummary}).
 * @throws RhizomeError PROTOCOL_MALFORMED otherwise.
 */
export function assertAppliesWhole(update: Uint8Array): void {
  wholeSummary(update)
}
