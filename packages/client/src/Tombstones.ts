import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'

/** The local-state key of the tombstone set (never a document: local state is not replicated). */
const KEY = 'deleted-docs'
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/**
 * Documents the relays deleted (docs/PROTOCOL.md sections 7.1 and 9), as this device learned them
 * from `deleted {doc, at}` messages or listing entries with a deletion time: name -> deletion time
 * (ms since the epoch, relay clock). Persisted with `store.putLocal`, because the store has no
 * tombstones of its own: once a document's bytes are purged locally, this set is what keeps a late
 * update from another relay (one that has not heard of the delete yet) from bringing it back, and
 * what keeps the device from pushing it again. The whole set is one local value; deletions are
 * rare next to edits, so rewriting it per deletion is cheap enough.
 */
export class Tombstones {
  readonly #store: DocStore
  readonly #deleted: Map<string, number>
  #writing: Promise<void> = Promise.resolve()

  private constructor(store: DocStore, deleted: Map<string, number>) {
    this.#store = store
    this.#deleted = deleted
  }

  /**
   * Reads the persisted set. An unreadable value counts as empty: the relays send their
   * tombstones again in the next full listing.
   * @throws RhizomeError STORE_CLOSED when the store is closed.
   */
  static async load(store: DocStore): Promise<Tombstones> {
    const deleted = new Map<string, number>()
    let raw: Uint8Array | null = null
    try {
      raw = await store.getLocal(KEY)
    } catch (err) {
      if (isRhizomeError(err, ErrorCode.STORE_CLOSED)) throw err
    }
    if (raw !== null) {
      try {
        const entries = JSON.parse(fromUtf8.decode(raw)) as unknown
        if (entries !== null && typeof entries === 'object') {
          for (const [name, at] of Object.entries(entries)) {
            if (typeof at === 'number' && Number.isFinite(at)) deleted.set(name, at)
          }
        }
      } catch {
        // unreadable: see above
      }
    }
    return new Tombstones(store, deleted)
  }

  /** True when the relays deleted `name`. */
  has(name: string): boolean {
    return this.#deleted.has(name)
  }

  /** When `name` was deleted (ms since the epoch), or `undefined`. */
  deletedAt(name: string): number | undefined {
    return this.#deleted.get(name)
  }

  /**
   * Records a deletion (in memory at once, so every later check sees it) and persists the set.
   * `durable` resolves once the write is durable, or once it failed (logged, never rejected: the
   * relays list the tombstone again in a later full listing). A document already recorded keeps
   * its first time and writes nothing (`added: false`).
   */
  add(name: string, at: number): { added: boolean; durable: Promise<void> } {
    if (this.#deleted.has(name)) return { added: false, durable: this.#writing }
    this.#deleted.set(name, at)
    // Writes run one after the other so that the last one persisted holds every name.
    this.#writing = this.#writing
      .then(() => this.#store.putLocal(KEY, utf8.encode(JSON.stringify(Object.fromEntries(this.#deleted)))))
      .catch((err: unknown) => {
        if (!isRhizomeError(err, ErrorCode.STORE_CLOSED))
          console.warn('rhizome client: persisting the deleted documents failed:', err)
      })
    return { added: true, durable: this.#writing }
  }
}
