import {
  CloseCode,
  digestOfDoc,
  EMPTY_STATE_VECTOR,
  EMPTY_UPDATE,
  ErrorCode,
  isRhizomeError,
  RhizomeError,
} from '@rhizome/protocol'
import { type DocStore, payloadsOf, type StoredDoc } from '@rhizome/store'
import * as Y from 'yjs'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { ExistenceChecks } from './ExistenceChecks.js'
import { type DocHost, RelayDoc } from './RelayDoc.js'
import { ReloadBarrier } from './ReloadBarrier.js'
import { assertAppliesWhole, type StandaloneSummary, wholeSummary } from './standaloneSummary.js'

/** What the registry tells the rest of the relay. */
export interface DocRegistryEvents {
  /** An update changed a loaded document (after it was handed to the store): forward it. */
  onUpdate(name: string, update: Uint8Array, origin: unknown): void
  /**
   * An update of a document that is not loaded went straight into the store ({@link
   * DocRegistry.appendDirect}); called once it is handed to the store, before its commit resolves.
   */
  onDirectAppend(name: string, update: Uint8Array, origin: unknown): void
  /** A stored document failed its checksums: fetch it whole from a peer. */
  onCorrupt(name: string): void
  /** True while the relay shuts down (a closed store is then no failure). */
  readonly closing: boolean
  /**
   * An update that changed a document is durable in the store (see {@link DocRegistry.reportDurable}).
   * Must not throw; it runs on the commit's path, so anything slow belongs on a later turn.
   */
  onDurable?(name: string, update: Uint8Array, origin: unknown): void
}

/**
 * Owns "where a document's state lives": the map of documents loaded in memory (acquire, hold,
 * evict when idle) and every read that must come from the loaded Y.Doc when there is one and from
 * the store otherwise (state vector, diff, digest), for client sockets, the mesh, HTTP and admin
 * paths alike.
 */
export class DocRegistry implements DocHost {
  readonly #docs = new Map<string, RelayDoc>()
  /** Commits of store-direct appends still in flight, the latest per document. */
  readonly #direct = new Map<string, Promise<void>>()

  readonly #reloads = new ReloadBarrier()
  /** `store.has` for documents pushed or pulled by the thousand: batched lookups. */
  readonly existence: ExistenceChecks

  /**
   * @param limits - `idleMs`: a document with no client is evicted after this long;
   *   `maxPendingUpdateBytes`: held updates (waiting for missing structs) per document.
   */
  constructor(
    readonly store: DocStore,
    limits: { idleMs: number; maxPendingUpdateBytes: number },
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
    private readonly events: DocRegistryEvents,
  ) {
    this.existence = new ExistenceChecks(store)
    this.idleMs = limits.idleMs
    this.maxPendingUpdateBytes = limits.maxPendingUpdateBytes
  }

  readonly idleMs: number
  readonly maxPendingUpdateBytes: number

  /** Documents loaded in memory. */
  get size(): number {
    return this.#docs.size
  }

  /** The loaded document, if `name` is in memory and not destroyed. */
  loaded(name: string): RelayDoc | undefined {
    const doc = this.#docs.get(name)
    return doc && !doc.closed ? doc : undefined
  }

  /** The in-memory document, loading it if needed; the caller attaches to it or holds it. */
  acquire(name: string): RelayDoc {
    let doc = this.#docs.get(name)
    if (!doc) {
      doc = new RelayDoc(name, this)
      this.#docs.set(name, doc)
      this.metrics.docsActive.set(this.#docs.size)
    }
    return doc
  }

  /**
   * Runs `fn` with the document loaded and kept in memory (peer replication, admin reads).
   * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
   */
  async withDoc<T>(name: string, fn: (doc: RelayDoc) => Promise<T> | T): Promise<T> {
    const doc = this.acquire(name)
    return doc.hold(async () => {
      try {
        await doc.ready
      } catch (err) {
        this.onLoadFailure(doc, err)
        throw err
      }
      return fn(doc)
    })
  }

  /** A document could not be loaded: a corrupt one is repaired from peers; it leaves memory. */
  onLoadFailure(doc: RelayDoc, err: unknown): void {
    if (isRhizomeError(err, ErrorCode.STORE_CORRUPT)) {
      this.metrics.corruptDocs.inc()
      this.log.warn({ doc: doc.name }, 'document has corrupt records; repairing from peers')
      this.events.onCorrupt(doc.name)
    } else {
      this.log.error({ err, doc: doc.name }, 'failed to load document')
    }
    this.#drop(doc)
  }

  /** The state vector of `name` (empty for an unknown document). */
  async stateVectorOf(name: string): Promise<Uint8Array> {
    const loaded = this.loaded(name)
    if (loaded) {
      await loaded.ready
      return Y.encodeStateVector(loaded.ydoc)
    }
    return (await this.store.getStateVector(name)) ?? EMPTY_STATE_VECTOR
  }

  /** What `name` holds beyond `stateVector`, as one update (empty for an unknown document). */
  async diffOf(name: string, stateVector: Uint8Array): Promise<Uint8Array> {
    const loaded = this.loaded(name)
    if (loaded) {
      await loaded.ready
      return Y.encodeStateAsUpdate(loaded.ydoc, stateVector)
    }
    return (await this.store.diff(name, stateVector)) ?? EMPTY_UPDATE
  }

  /** The digest of `name` (docs/PROTOCOL.md section 1); null when unknown or unreadable. */
  async digestOf(name: string): Promise<string | null> {
    const loaded = this.loaded(name)
    if (loaded) {
      try {
        await loaded.ready
        return digestOfDoc(loaded.ydoc)
      } catch {
        return null
      }
    }
    try {
      return await this.store.getDigest(name)
    } catch {
      return null
    }
  }

  /**
   * Applies an update that came from a peer. A pulled document this relay has never held (a
   * recovering relay pulls thousands) goes straight into the store without a Y.Doc; otherwise it
   * is applied to the loaded document. Returns the commit that makes it durable.
   * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
   */
  async applyFromPeer(
    name: string,
    update: Uint8Array,
    origin: unknown,
    isPull: boolean,
  ): Promise<{ committed: Promise<void> }> {
    if (isPull && !this.#docs.has(name) && !(await this.existence.has(name))) {
      // It becomes the whole document, so it is first applied to a scratch document: bytes Yjs
      // cannot apply cleanly (or that would wait for missing structs) are never stored.
      const summary = wholeSummary(update)
      return { committed: this.appendDirect(name, update, origin, summary) }
    }
    return this.withDoc(name, (doc) => {
      // A held part (waiting for structs this relay lacks) is acknowledged once it integrated.
      return { committed: doc.whenDurable(doc.apply(update, origin)) }
    })
  }

  /**
   * Appends an update of a document that is not loaded straight to the store, without a Y.Doc (a
   * recovering relay pulls thousands; a device pushes thousands). The caller has checked that the
   * update integrates on its own. Announced through `onDirectAppend` before the commit resolves, so
   * that whoever reads the store's change sequence afterwards was told about it. Returns the commit.
   * `checked`: what the caller's scratch-document check of the update found (`standaloneSummary`):
   * the update is not decoded once more, and the summary is stored with it when the update is all
   * the document holds.
   * @throws RhizomeError PROTOCOL_MALFORMED when the update does not decode (nothing is stored or
   * announced).
   */
  appendDirect(
    name: string,
    update: Uint8Array,
    origin: unknown,
    checked?: StandaloneSummary,
  ): Promise<void> {
    try {
      if (checked === undefined) Y.decodeUpdate(update)
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be decoded', { cause })
    }
    const appended = this.store.append(name, update, { decoded: true })
    // In the same turn as the append, so both go into one commit (see DocStore.noteFirstDigest).
    if (checked !== undefined) {
      this.store.noteFirstDigest(name, checked.digest, checked.stateVector).catch(() => {})
    }
    const committed = appended.then(() => {
      this.reportDurable(name, update, origin)
      // A client may have opened it meanwhile, loading the store before this commit.
      const loaded = this.loaded(name)
      if (loaded) loaded.ready.then(() => loaded.apply(update, origin)).catch(() => {})
    })
    this.#trackDirect(name, committed)
    this.events.onDirectAppend(name, update, origin)
    return committed
  }

  /**
   * Stores a whole document a peer holds, which this relay never held, exactly as the peer stores it
   * (`DocStore.transfer.adopt`: records, checksums and receive times kept, no Y.Doc; one with nested
   * types is also applied to a scratch document first, for the nesting limit). When the relay
   * holds the document after all (loaded, written meanwhile, or found stored inside the commit),
   * its records are applied like any update instead. Announced through `onDirectAppend` before the
   * commit resolves, reported durable after. Resolves once durable: true, or false when the
   * records were refused (malformed, or not a whole document), and nothing was stored.
   */
  async adoptWhole(doc: StoredDoc, origin: unknown): Promise<boolean> {
    const { name } = doc
    if (this.#docs.has(name) || this.#direct.has(name)) return this.#applyWhole(doc, origin)
    const adopting = this.store.transfer.adopt(doc, (payloads, state) => {
      if (state.nested) assertAppliesWhole(payloads.length === 1 ? payloads[0]! : Y.mergeUpdates(payloads))
      for (const payload of payloads) this.events.onDirectAppend(name, payload, origin)
    })
    const committed = adopting.then(() => {})
    this.#trackDirect(name, committed)
    let adoption: Awaited<typeof adopting>
    try {
      adoption = await adopting
    } catch (err) {
      if (isRhizomeError(err, ErrorCode.PROTOCOL_MALFORMED)) {
        this.log.warn({ doc: name, err: err.message }, 'refused a whole document from a peer')
        return false
      }
      throw err
    }
    if (adoption.outcome === 'held') return this.#applyWhole(doc, origin)
    for (const payload of adoption.payloads) this.reportDurable(name, payload, origin)
    // A client may have opened it meanwhile, loading the store before this commit.
    const loaded = this.loaded(name)
    if (loaded) {
      const merged = Y.mergeUpdates(adoption.payloads)
      loaded.ready.then(() => loaded.apply(merged, origin)).catch(() => {})
    }
    return true
  }

  /** Applies a whole document's records to the loaded (or loadable) document, as one update. */
  async #applyWhole(doc: StoredDoc, origin: unknown): Promise<boolean> {
    let update: Uint8Array
    try {
      update = Y.mergeUpdates(payloadsOf(doc))
    } catch (err) {
      this.log.warn({ doc: doc.name, err: (err as Error).message }, 'refused a whole document from a peer')
      return false
    }
    const { committed } = await this.withDoc(doc.name, (d) => ({
      committed: d.whenDurable(d.apply(update, origin)),
    }))
    await committed
    return true
  }

  /** Keeps a store-direct commit of `name` as its latest (see {@link whenCommitted}) until it settles. */
  #trackDirect(name: string, committed: Promise<void>): void {
    this.#direct.set(name, committed)
    const forget = () => {
      if (this.#direct.get(name) === committed) this.#direct.delete(name)
    }
    committed.then(forget, forget)
  }

  /** True while `name` is loaded or a store-direct write of it is in flight. */
  isLive(name: string): boolean {
    return this.#docs.has(name) || this.#direct.has(name)
  }

  /** Resolves once everything applied so far to `name` (loaded or store-direct) is durable. */
  whenCommitted(name: string): Promise<void> {
    const loaded = this.loaded(name)?.whenCommitted()
    const direct = this.#direct.get(name)
    if (loaded && direct) return Promise.all([loaded, direct]).then(() => {})
    return loaded ?? direct ?? Promise.resolve()
  }

  /** Resolves once everything applied so far to any document is durable in the store. */
  async whenAllCommitted(): Promise<void> {
    await Promise.allSettled([
      ...[...this.#docs.values()].map((d) => d.whenCommitted()),
      ...this.#direct.values(),
    ])
  }

  /**
   * Closes every client of `name` with `code` and drops it from memory, if loaded (a deleted
   * document). Its stored bytes stay.
   */
  evict(name: string, code: number, reason: string): void {
    const doc = this.#docs.get(name)
    if (!doc) return
    for (const client of [...doc.clients]) client.close(code, reason)
    this.#drop(doc)
  }

  /** Frees every loaded document (after the store closed). */
  destroyAll(): void {
    for (const doc of this.#docs.values()) doc.destroy()
    this.#docs.clear()
  }

  // DocHost: what each loaded document reports.

  onDocUpdate(doc: RelayDoc, update: Uint8Array, origin: unknown): void {
    this.events.onUpdate(doc.name, update, origin)
  }

  onDocDurable(doc: RelayDoc, update: Uint8Array, origin: unknown): void {
    this.reportDurable(doc.name, update, origin)
  }

  /**
   * The hook point of durable changes (docs/PROTOCOL.md section 10, `onChange` and webhooks): call it
   * once `update`, which changed `name`, is durable in the store. Loaded documents report through
   * here by themselves; a path that writes to the store directly reports its own writes. `origin` is
   * the Yjs transaction origin (a client connection, a device session, a peer link, the HTTP API).
   */
  reportDurable(name: string, update: Uint8Array, origin: unknown): void {
    this.events.onDurable?.(name, update, origin)
  }

  onPersistFailure(doc: RelayDoc, err: unknown): void {
    if (this.events.closing && isRhizomeError(err, ErrorCode.STORE_CLOSED)) return
    this.log.error({ err, doc: doc.name }, 'persisting an update failed; dropping the in-memory copy')
    for (const client of doc.clients) client.close(CloseCode.TRANSIENT, 'storage failure')
    this.#drop(doc)
  }

  onDocBroken(doc: RelayDoc, culprit: unknown): void {
    this.log.warn({ doc: doc.name }, 'Yjs failed applying an update; reloading the document from the store')
    // The next load reads the store only after what this copy already handed to it is committed.
    this.#reloads.add(doc.name, doc.whenCommitted())
    // The culprit is closed with the error (4400); the others resync with the reloaded copy.
    for (const client of [...doc.clients]) {
      if (client !== culprit) client.close(CloseCode.TRANSIENT, 'document reloaded')
    }
    this.#drop(doc)
  }

  loadAfter(name: string): Promise<void> | undefined {
    return this.#reloads.wait(name)
  }

  /** Drops what every loaded document holds for `origin` (a peer link that closed): it comes again. */
  dropPendingFrom(origin: unknown): void {
    for (const doc of this.#docs.values()) doc.dropPendingFrom(origin)
  }

  onIdle(doc: RelayDoc): void {
    doc.whenCommitted().then(
      () => {
        // Once stopping, the store may be closed already; stopping frees every document itself.
        if (!doc.idle || this.#docs.get(doc.name) !== doc || this.events.closing) return
        // The store now holds exactly this state: hand it the digest so that catalogs and
        // anti-entropy never have to load the document again to learn it.
        this.store
          .noteDigest(doc.name, digestOfDoc(doc.ydoc), Y.encodeStateVector(doc.ydoc))
          .catch((err) => this.log.debug({ err, doc: doc.name }, 'could not cache a digest'))
        this.#drop(doc)
      },
      () => {},
    )
  }

  #drop(doc: RelayDoc): void {
    if (this.#docs.get(doc.name) === doc) this.#docs.delete(doc.name)
    if (!doc.closed) doc.destroy()
    this.metrics.docsActive.set(this.#docs.size)
  }
}
