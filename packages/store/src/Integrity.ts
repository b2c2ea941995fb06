import type { Compactor } from './Compactor.js'
import { decodeChecked } from './checksum.js'
import type { DocReader } from './DocReader.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { checkDocName, dataRange, nameOfDataKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { quarantineDamaged } from './quarantine.js'
import { type AnyLevel, RAW } from './records.js'
import { repairFromPeer } from './repair.js'
import { validateUpdate } from './yjsMerge.js'

/** What one `DocStore.scrub` call found. */
export interface ScrubPage {
  /** Records verified. */
  scanned: number
  /** Documents with a damaged record among them (now quarantined). */
  corrupt: string[]
  /** Key to continue after; `null` once every record was verified. */
  next: string | null
}

/**
 * The integrity work of a store that `DocStore.repair` and `DocStore.scrub` delegate to: repairing
 * a quarantined document from a peer's state, and scrubbing stored records against their
 * checksums in the background, quarantining what fails.
 */
export class Integrity {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #life: Lifecycle
  readonly #compactor: Compactor

  constructor(db: AnyLevel, commit: GroupCommit, reader: DocReader, life: Lifecycle, compactor: Compactor) {
    this.#db = db
    this.#commit = commit
    this.#reader = reader
    this.#life = life
    this.#compactor = compactor
  }

  /**
   * See `DocStore.repair`: runs exclusively of the document's compactions, purges and other
   * repairs, and is tracked so that closing the store waits for it.
   * @throws RhizomeError STORE_CLOSED or PROTOCOL_MALFORMED (synchronously); TypeError for an invalid name.
   */
  repair(name: string, update: Uint8Array): Promise<void> {
    this.#life.assertOpen()
    checkDocName(name)
    validateUpdate(update)
    const repairNow = () => {
      this.#compactor.forget(name)
      return repairFromPeer(this.#db, this.#commit, this.#reader, name, update)
    }
    return this.#life.track(this.#life.exclusively(name, repairNow))
  }

  /**
   * One step of a background scrub (see `DocStore.scrub`): verifies up to `limit` data records
   * after key `after`, in key order, against their checksums, without decoding or caching
   * anything, and quarantines each document with a damaged record exactly as a read that found it
   * would.
   * @throws a LevelDB-level read error as it is.
   */
  async scrub(options: { after?: string; limit?: number }): Promise<ScrubPage> {
    const limit = options.limit ?? 256
    // fillCache is a classic-level option (other backends ignore it): a scrub must not evict the
    // blocks that serve clients.
    const iteratorOptions = { ...dataRange(options.after), limit, fillCache: false, ...RAW }
    const page = await this.#db.iterator<string, Uint8Array>(iteratorOptions).all()
    const damaged = new Map<string, string[]>()
    for (const [key, value] of page) {
      if (decodeChecked(key, value) !== null) continue
      const name = nameOfDataKey(key)
      damaged.set(name, [...(damaged.get(name) ?? []), key])
    }
    for (const [name, keys] of damaged) await quarantineDamaged(this.#commit, this.#db, name, keys)
    return {
      scanned: page.length,
      corrupt: [...damaged.keys()],
      next: page.length < limit ? null : (page.at(-1)?.[0] ?? null),
    }
  }
}
