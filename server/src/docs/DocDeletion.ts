import { CloseCode } from '@rhizome/protocol'
import type { DocStore, TombstoneRecord } from '@rhizome/store'
import type { Logger } from '../logger.js'
import type { DocRegistry } from './DocRegistry.js'

/** What deletion needs from the relay. */
export interface DocDeletionHost {
  readonly store: DocStore
  readonly docs: DocRegistry
  readonly log: Logger
  /** `--history-ms`: an undelete is possible this long after the delete, then the bytes are purged. */
  readonly historyMs: number
  /** Tells the peers (all but `origin`) that the record changed. */
  announce(record: TombstoneRecord, origin: unknown): void
  /** Tells the device sessions replicating `name` that it was deleted at `at`. */
  notifyDeleted(name: string, at: number): void
}

/** What {@link DocDeletion.undelete} found. */
export type UndeleteResult = 'undeleted' | 'not-deleted' | 'purged'

/**
 * Deletion of documents on a relay (docs/PROTOCOL.md section 9): a delete writes the document's
 * tombstone, closes every socket and session holding it with 4410, drops it from memory and
 * announces the tombstone to peers and device sessions; an undelete records the document live
 * again (a later time, so it wins wherever it replicates). Records from peers merge last writer
 * wins (a delete winning ties) and are passed on to the other peers only when they changed
 * something here, so a record floods the mesh once. Refusing writes to deleted documents happens
 * where they arrive (sockets, sessions, HTTP, peer links), by {@link isDeleted}.
 */
export class DocDeletion {
  constructor(private readonly host: DocDeletionHost) {}

  /** True when `name` is deleted on this relay (from memory; cheap on every write path). */
  isDeleted(name: string): boolean {
    return this.host.store.deletedAt(name) !== null
  }

  /** When `name` was deleted, or `null`. */
  deletedAt(name: string): number | null {
    return this.host.store.deletedAt(name)
  }

  /**
   * Deletes `name` on this relay and announces it to the mesh. Resolves once the tombstone is durable.
   * @returns the deletion time (that of an earlier delete when the document was deleted already).
   * @throws RhizomeError STORE_CLOSED when the relay is stopping.
   */
  async delete(name: string): Promise<number> {
    const existing = this.host.store.deletedAt(name)
    if (existing !== null) return existing
    const at = Math.max(Date.now(), (this.host.store.tombstoneOf(name)?.at ?? 0) + 1)
    if (await this.host.store.tombstone(name, at)) this.#applied({ name, deleted: true, at }, null)
    return this.host.store.deletedAt(name) ?? at
  }

  /**
   * Brings `name` back, with everything stored of it, within `--history-ms` of its deletion, and
   * announces it to the mesh.
   * @returns `'not-deleted'` for a live document, `'purged'` once the window has passed.
   * @throws RhizomeError STORE_CLOSED when the relay is stopping.
   */
  async undelete(name: string): Promise<UndeleteResult> {
    const at = this.host.store.deletedAt(name)
    if (at === null) return 'not-deleted'
    if (Date.now() - at > this.host.historyMs) return 'purged'
    if (!(await this.host.store.undelete(name))) return 'not-deleted'
    const record = this.host.store.tombstoneOf(name)
    if (record) this.#applied(record, null)
    return 'undeleted'
  }

  /** Merges records a peer sent (`origin` its link); those that change our state take effect and pass on. */
  async merge(records: readonly TombstoneRecord[], origin: unknown): Promise<void> {
    for (const record of records) {
      if (await this.host.store.mergeTombstone(record)) this.#applied(record, origin)
    }
  }

  /** Every record to offer a peer at the start of an anti-entropy round (live ones included). */
  records(): TombstoneRecord[] {
    return this.host.store.tombstones({ includeLive: true })
  }

  #applied(record: TombstoneRecord, origin: unknown): void {
    const { name } = record
    if (record.deleted) {
      // No byte more of it leaves this relay: its sockets and sessions close with 4410 and the
      // in-memory copy goes (the stored bytes stay until the purge, for an undelete).
      this.host.docs.evict(name, CloseCode.DELETED, 'document deleted')
      this.host.notifyDeleted(name, record.at)
      this.host.log.info({ doc: name, at: record.at, fromPeer: origin !== null }, 'document deleted')
    } else {
      this.host.log.info({ doc: name, at: record.at, fromPeer: origin !== null }, 'document undeleted')
    }
    this.host.announce(record, origin)
  }
}
