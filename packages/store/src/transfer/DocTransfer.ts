import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import type { Lifecycle } from '../Lifecycle.js'
import type { AnyLevel } from '../records.js'
import { type AdoptOutcome, adoptDoc } from './adoptDoc.js'
import { type ExportedDocs, exportDocs } from './exportDocs.js'
import { payloadsOf, type StoredDoc } from './storedDoc.js'
import { inspectWholeState, type WholeState } from './wholeState.js'

/** Bytes of values one {@link DocTransfer.export} reads by default before it stops at a document boundary. */
export const EXPORT_BYTES = 8 * 1024 * 1024

/** What {@link DocTransfer.adopt} did, with the verified payloads of the document (snapshot first). */
export interface Adoption {
  outcome: AdoptOutcome
  payloads: Uint8Array[]
}

/**
 * Whole documents moving between stores as they are stored (`DocStore.transfer`): a store exports
 * many documents in one pass, and a store that never held them adopts them without merging them
 * through a Y.Doc, many per commit, checksums kept end to end. What a refilling relay uses
 * (docs/PROTOCOL.md, Mesh: fetch and records).
 */
export class DocTransfer {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #life: Lifecycle

  constructor(db: AnyLevel, commit: GroupCommit, life: Lifecycle) {
    this.#db = db
    this.#commit = commit
    this.#life = life
  }

  /**
   * Reads the named documents whole (see `exportDocs`), stopping at a document boundary after
   * `maxBytes` of values.
   * @throws RhizomeError STORE_CLOSED after close; TypeError for an invalid name.
   */
  async export(names: readonly string[], maxBytes = EXPORT_BYTES): Promise<ExportedDocs> {
    this.#life.assertOpen()
    return exportDocs(this.#db, this.#commit, names, maxBytes)
  }

  /**
   * Stores a document this store never held as it came (see `adoptDoc`): verifies its keys and
   * checksums, checks that its records make a whole document (`inspectWholeState`), runs `accept`
   * (the caller's own refusal, for example applying a nested document to a scratch Y.Doc), then
   * commits it. Resolves once durable, or at once with `held` when the store already holds it.
   * @throws RhizomeError PROTOCOL_MALFORMED when a record fails its checksum, a key is not the
   * document's, or the records are not whole (nothing is stored); whatever `accept` throws.
   * @throws RhizomeError STORE_CLOSED after close.
   */
  async adopt(
    doc: StoredDoc,
    accept?: (payloads: Uint8Array[], state: WholeState) => void,
  ): Promise<Adoption> {
    this.#life.assertOpen()
    const payloads = payloadsOf(doc)
    const state = inspectWholeState(payloads)
    accept?.(payloads, state)
    return { outcome: await adoptDoc(this.#commit, doc, state), payloads }
  }
}
