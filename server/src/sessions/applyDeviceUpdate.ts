import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'
import type { DocRegistry } from '../docs/DocRegistry.js'

/** True for the update that changes nothing (`[0, 0]`: no structs, an empty delete set). */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}

/**
 * True when `update` integrates completely into an empty document: nothing of it would wait for
 * missing dependencies. Only such an update may go straight into the store of a document the relay
 * never held (the store must never hold what Yjs could not integrate).
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot decode or apply it.
 */
export function integratesAlone(update: Uint8Array): boolean {
  // A fixed guid: a random one costs a cryptographic random draw per document.
  const scratch = new Y.Doc({ guid: 'rhizome-session-check' })
  try {
    Y.applyUpdate(scratch, update)
    return scratch.store.pendingStructs === null && scratch.store.pendingDs === null
  } catch (cause) {
    throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be applied', { cause })
  } finally {
    scratch.destroy()
  }
}

/**
 * Applies a device's update of `name` (docs/PROTOCOL.md section 7.2, step 7) without keeping
 * documents in memory for it: a loaded document gets it on its Y.Doc; a document the relay never
 * held takes the store-direct path when the update stands alone; any other is loaded, updated and
 * left to idle out (after at most a second, as documents only peers touched). Either way the
 * update reaches peers, sessions and document sockets with `origin`, and
 * `docs.whenCommitted(name)` then covers it. The empty update applies nothing.
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot decode or apply it (nothing applied).
 * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
 */
export async function applyDeviceUpdate(
  docs: DocRegistry,
  name: string,
  update: Uint8Array,
  origin: unknown,
): Promise<void> {
  if (isEmptyUpdate(update)) return
  if (!docs.loaded(name) && !(await docs.store.has(name)) && !docs.loaded(name) && integratesAlone(update)) {
    void docs.appendDirect(name, update, origin)
    return
  }
  await docs.withDoc(name, (doc) => {
    doc.apply(update, origin)
  })
}

/**
 * True when `update` would change `name` (a read-only device must not write). Loads the document
 * briefly unless the update is empty.
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot decode it.
 * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
 */
export async function wouldChangeDoc(docs: DocRegistry, name: string, update: Uint8Array): Promise<boolean> {
  if (isEmptyUpdate(update)) return false
  return docs.withDoc(name, (doc) => doc.wouldChange(update))
}
