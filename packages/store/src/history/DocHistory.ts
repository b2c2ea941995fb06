import type { Compactor } from '../Compactor.js'
import type { DocReader } from '../DocReader.js'
import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import { checkDocName } from '../keys.js'
import type { Lifecycle } from '../Lifecycle.js'
import { purgeDocument } from '../purgeDocument.js'
import type { AnyLevel } from '../records.js'
import type { HistoryIndex } from './HistoryIndex.js'
import { HistoryPurge, type PurgeReport } from './HistoryPurge.js'
import { HistoryReader, type HistorySettings, type RestorePoint } from './HistoryReader.js'
import { revertUpdate } from './revert.js'

/**
 * The history and deletion side of a store (docs/PROTOCOL.md section 9), which `DocStore`
 * delegates to: reads of a document's past, reverts, aging of history and purging of whole
 * documents. The promises and errors of each method are those of the `DocStore` method of the
 * same purpose.
 */
export class DocHistory {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #life: Lifecycle
  readonly #compactor: Compactor
  readonly #reader: HistoryReader
  readonly #purge: HistoryPurge

  constructor(
    db: AnyLevel,
    commit: GroupCommit,
    reader: DocReader,
    life: Lifecycle,
    index: HistoryIndex,
    compactor: Compactor,
    settings: HistorySettings,
  ) {
    this.#db = db
    this.#commit = commit
    this.#life = life
    this.#compactor = compactor
    this.#reader = new HistoryReader(commit, reader, life, index, settings)
    this.#purge = new HistoryPurge(db, commit, reader, life, index, compactor, settings)
  }

  /** See `DocStore.stateAt`. */
  stateAt(name: string, at: number): Promise<Uint8Array | null> {
    return this.#reader.stateAt(name, at)
  }

  /** See `DocStore.updatesSince`. */
  updatesSince(name: string, at: number): Promise<Uint8Array | null> {
    return this.#reader.updatesSince(name, at)
  }

  /** See `DocStore.revertTo`: {@link revertUpdate} of {@link stateAt} and {@link updatesSince}. */
  async revertTo(name: string, at: number): Promise<Uint8Array | null> {
    const target = await this.stateAt(name, at)
    const later = await this.updatesSince(name, at)
    return target === null || later === null ? null : revertUpdate(target, later)
  }

  /** See `DocStore.history`. */
  restorePoints(name: string): Promise<RestorePoint[]> {
    return this.#reader.restorePoints(name)
  }

  /** See `DocStore.purgeHistory`. */
  purgeHistory(now: number, maxDocs: number, onError: (err: unknown) => void): Promise<PurgeReport> {
    return this.#purge.purge(now, maxDocs, onError)
  }

  /**
   * See `DocStore.purgeDocument`: runs exclusively of the document's compactions and repairs, and
   * is tracked so that closing the store waits for it.
   * @throws RhizomeError STORE_CLOSED (synchronously) after the store closed.
   */
  purgeDocument(name: string): Promise<void> {
    this.#life.assertOpen()
    checkDocName(name)
    const purge = async () => {
      this.#compactor.forget(name)
      await purgeDocument(this.#db, this.#commit, name)
    }
    return this.#life.track(this.#life.exclusively(name, purge))
  }
}
