import { isEmptyUpdate } from '@rhizome/protocol'
import type { DocRegistry } from '../docs/DocRegistry.js'
import { standaloneSummary } from '../docs/standaloneSummary.js'

/**
 * Applies a device's update of `name` (docs/PROTOCOL.md section 7.2, step 7) without keeping
 * documents in memory for it: a loaded document gets it on its Y.Doc; a document the relay never
 * held takes the store-direct path when the update stands alone; any other is loaded, updated and
 * left to idle out (after at most a second, as documents only peers touched). Either way the
 * update reaches peers, sessions and document sockets with `origin`, and
 * `docs.whenCommitted(name)` then covers it. The empty update applies nothing.
 * @returns `held`: null, or, when part of the update waits for structs the relay lacks, a promise
 *   that resolves once that part integrated (and rejects when it was dropped). Wrapped in an
 *   object because a promise resolving to a promise would wait for it.
 * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot decode or apply it (nothing applied).
 * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
 */
export async function applyDeviceUpdate(
  docs: DocRegistry,
  name: string,
  update: Uint8Array,
  origin: unknown,
): Promise<{ held: Promise<void> | null }> {
  if (isEmptyUpdate(update)) return { held: null }
  if (!docs.loaded(name) && !(await docs.existence.has(name)) && !docs.loaded(name)) {
    const summary = standaloneSummary(update)
    if (summary !== null) {
      void docs.appendDirect(name, update, origin, summary)
      return { held: null }
    }
  }
  return docs.withDoc(name, (doc) => ({ held: doc.apply(update, origin).held }))
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
