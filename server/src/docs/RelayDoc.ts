import { ErrorCode, encodeAwareness, encodeSyncUpdate, RhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { AwarenessOwners } from './AwarenessOwners.js'
import { PendingUpdates } from './PendingUpdates.js'
import { UpdateGate } from './UpdateGate.js'

/** Updates merged into one broadcast at most; a larger burst is flushed at once (merging grows superlinearly). */
const MAX_BATCHED_UPDATES = 256

/** Origin of the transaction that loads stored state; such updates are not stored again or forwarded. */
export const LOAD_ORIGIN = Symbol('rhizome-load')

/** A client socket attached to a document, as the document sees it. */
export interface DocClient {
  /** Awareness client ids this socket introduced (and may change or remove). */
  readonly awarenessIds: Set<number>
  /** Sends a frame (awareness, ACK, sync answers). */
  sendFrame(frame: Uint8Array): void
  /** Sends a document update frame (counted as an update sent). */
  sendUpdateFrame(frame: Uint8Array): void
  /** Closes the socket with a close code of docs/PROTOCOL.md section 4. */
  close(code: number, reason: string): void
}

/** What a document needs from the registry that holds it. */
export interface DocHost {
  readonly store: DocStore
  /** Called for every update that changed the document, after it was handed to the store. */
  onDocUpdate(doc: RelayDoc, update: Uint8Array, origin: unknown): void
  /** Called for every such update once the commit holding it is durable (onChange, webhooks). */
  onDocDurable(doc: RelayDoc, update: Uint8Array, origin: unknown): void
  /** Called when persisting failed; the relay drops the in-memory copy so clients resync. */
  onPersistFailure(doc: RelayDoc, err: unknown): void
  /**
   * Called when Yjs threw while applying an update from `culprit`: the Y.Doc may hold part of it or
   * be unable to emit again, and nothing of it was stored or sent. The relay drops the in-memory
   * copy (its next load waits for {@link RelayDoc.whenCommitted}) and closes its other clients.
   */
  onDocBroken(doc: RelayDoc, culprit: unknown): void
  /** A load of `name` must wait for this first (the commits of a dropped copy), if anything. */
  loadAfter(name: string): Promise<void> | undefined
  /** Bytes of updates waiting for missing structs one document may hold. */
  readonly maxPendingUpdateBytes: number
  /** The document may be evicted now. */
  onIdle(doc: RelayDoc): void
  readonly idleMs: number
}

/** What {@link RelayDoc.apply} did with an update. */
export interface Applied {
  /** The document changed. */
  changed: boolean
  /**
   * Null when the update integrated whole. Otherwise part of it waits for structs this relay lacks:
   * resolves once that part integrated, rejects (with the error to close its origin with) when it
   * was dropped.
   */
  held: Promise<void> | null
}

/**
 * One document loaded in memory: the Y.Doc, its awareness, the client sockets on it and the chain
 * of commits that makes its state durable. Loading finishes before anything is served or applied.
 */
export class RelayDoc {
  readonly ydoc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  /** Which client socket owns which awareness clientID (docs/PROTOCOL.md section 3, AWARENESS). */
  readonly awarenessOwners = new AwarenessOwners()
  readonly clients = new Set<DocClient>()
  /** Resolves once the stored state is loaded; rejects with STORE_CORRUPT for a damaged document. */
  readonly ready: Promise<void>
  #lastCommit: Promise<void> = Promise.resolve()
  #outbox: { update: Uint8Array; origin: unknown }[] = []
  #holds = 0
  #idleTimer: ReturnType<typeof setTimeout> | null = null
  #hadClients = false
  /** Whether the store holds anything of this document; null while it loads. */
  #stored: boolean | null = null
  #gate: UpdateGate | null = null
  readonly #pending: PendingUpdates
  closed = false

  constructor(
    readonly name: string,
    private readonly host: DocHost,
  ) {
    // The name as guid: a random one would cost a cryptographic random draw per load.
    this.ydoc = new Y.Doc({ gc: true, guid: name })
    this.#pending = new PendingUpdates(host.maxPendingUpdateBytes)
    this.awareness = new awarenessProtocol.Awareness(this.ydoc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', this.#awarenessOnUpdate)
    this.ready = this.#load()
    // A failed load is reported to whoever awaits `ready`; never an unhandled rejection.
    this.ready.catch(() => {})
  }

  async #load(): Promise<void> {
    await this.host.loadAfter(this.name)
    this.#stored = await this.host.store.loadInto(this.name, this.ydoc, LOAD_ORIGIN)
    this.#gate = new UpdateGate(this.ydoc, this.#docOnUpdate)
  }

  /** Every update the document emitted, once the apply that produced it finished cleanly. */
  #docOnUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === LOAD_ORIGIN) return
    // Yjs produced this update itself: the store need not decode it again.
    this.#persist(update, true)
    this.#queueBroadcast(update, origin)
    // Peers get it at once: their ACK targets are sequence numbers taken right after this apply.
    this.host.onDocUpdate(this, update, origin)
    this.#lastCommit.then(
      () => this.host.onDocDurable(this, update, origin),
      () => {},
    )
  }

  /**
   * Updates for clients are sent once per event-loop turn, merged into one frame per socket: with
   * many readers, one write per update per reader costs far more than merging (a system call each).
   */
  #queueBroadcast(update: Uint8Array, origin: unknown): void {
    this.#outbox.push({ update, origin })
    if (this.#outbox.length >= MAX_BATCHED_UPDATES) this.#flushBroadcast()
    else if (this.#outbox.length === 1) setImmediate(this.#flushBroadcast)
  }

  #flushBroadcast = (): void => {
    const batch = this.#outbox
    if (batch.length === 0) return
    this.#outbox = []
    if (this.closed || this.clients.size === 0) return
    const merge = (updates: Uint8Array[]) => (updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates))
    const everything = encodeSyncUpdate(merge(batch.map((b) => b.update)))
    const origins = new Set(batch.map((b) => b.origin))
    for (const client of this.clients) {
      if (!origins.has(client)) {
        client.sendUpdateFrame(everything)
        continue
      }
      // Never echo a client's own updates back to it.
      const others = batch.filter((b) => b.origin !== client).map((b) => b.update)
      if (others.length > 0) client.sendUpdateFrame(encodeSyncUpdate(merge(others)))
    }
  }

  #persist(update: Uint8Array, decoded = false): void {
    this.#stored = true
    const commit = this.host.store.append(this.name, update, { decoded })
    commit.catch((err) => this.host.onPersistFailure(this, err))
    this.#lastCommit = commit
  }

  /** Resolves once everything applied so far is durable in the store. */
  whenCommitted(): Promise<void> {
    return this.#lastCommit
  }

  /**
   * Applies an update from a client or a peer. What it changed is stored, broadcast and forwarded
   * only once Yjs applied it whole; a part that waits for structs this relay lacks is held (not
   * stored, not acknowledged) until they arrive, within {@link DocHost.maxPendingUpdateBytes}.
   * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot decode or apply it: nothing of it is
   *   stored or sent, and the document is broken (see {@link DocHost.onDocBroken}).
   * @throws RhizomeError PROTOCOL_TOO_LARGE when its held part would exceed the budget: every part
   *   held for `origin` is dropped (what integrated stays: it is a valid update).
   * @throws RhizomeError RELAY_UNAVAILABLE when the document is not loaded or already broken.
   */
  apply(update: Uint8Array, origin: unknown): Applied {
    const gate = this.#gate
    if (gate === null || this.closed) {
      throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'document is not loaded')
    }
    let result: ReturnType<UpdateGate['apply']>
    try {
      result = gate.apply(update, origin)
    } catch (err) {
      if (gate.broken) this.#onBroken(err, origin)
      throw err
    }
    let held: Promise<void> | null = null
    let refused: unknown = null
    if (result.pending) {
      try {
        held = this.#pending.hold(origin, result.pending)
      } catch (err) {
        refused = err
      }
    }
    // What this update integrated may be what held parts wait for (their own or other origins').
    const failed = this.#pending.retry(gate, result.advanced)
    // A held part Yjs failed on: its origin is closed through the rejection; this update was fine.
    if (failed) this.#onBroken(failed.err, failed.origin)
    this.#maybeIdle()
    if (refused !== null) throw refused
    return { changed: result.changed, held }
  }

  /** True once Yjs failed applying an update here: the relay drops this copy. */
  get broken(): boolean {
    return this.#gate?.broken ?? false
  }

  /** Resolves once what `applied` changed, its held part included, is durable in the store. */
  whenDurable(applied: Applied): Promise<void> {
    return applied.held ? applied.held.then(() => this.whenCommitted()) : this.whenCommitted()
  }

  #onBroken(err: unknown, culprit: unknown): void {
    if (this.closed) return
    this.#pending.dropFrom(culprit, err)
    this.#pending.dropAll(new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'document is being reloaded'))
    this.host.onDocBroken(this, culprit)
  }

  /** Drops what is held for `origin` (a peer link that closed): it will be sent again. */
  dropPendingFrom(origin: unknown): void {
    this.#pending.dropFrom(origin, new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'connection closed'))
    this.#maybeIdle()
  }

  /** True when applying `update` would change this document (used to refuse read-only writers). */
  wouldChange(update: Uint8Array): boolean {
    let decoded: {
      structs: Array<Y.Item | Y.GC | Y.Skip>
      ds: ReturnType<typeof Y.createDeleteSetFromStructStore>
    }
    try {
      decoded = Y.decodeUpdate(update) as typeof decoded
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be decoded', { cause })
    }
    const sv = Y.decodeStateVector(Y.encodeStateVector(this.ydoc))
    for (const s of decoded.structs) {
      if (s instanceof Y.Skip) continue
      if (s.id.clock + s.length > (sv.get(s.id.client) ?? 0)) return true
    }
    if (decoded.ds.clients.size === 0) return false
    const mine = Y.createDeleteSetFromStructStore(this.ydoc.store)
    for (const [client, ranges] of decoded.ds.clients) {
      const have = mine.clients.get(client) ?? []
      for (const r of ranges) {
        const covered = have.some((h) => h.clock <= r.clock && r.clock + r.len <= h.clock + h.len)
        if (!covered) return true
      }
    }
    return false
  }

  #awarenessOnUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    _origin: unknown,
  ): void => {
    // Ownership is settled before an update is applied (ClientConnection, AwarenessOwners).
    const changed = added.concat(updated, removed)
    const frame = encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed))
    for (const client of this.clients) client.sendFrame(frame)
  }

  /** Attaches a client socket; keeps the document loaded while it is attached. */
  attach(client: DocClient): void {
    this.clients.add(client)
    this.#hadClients = true
    this.#cancelIdle()
  }

  /** Detaches a client and removes the awareness states it controlled. */
  detach(client: DocClient): void {
    if (!this.clients.delete(client)) return
    // Not acknowledged, so the client sends it again when it reconnects (its sync step 2).
    this.#pending.dropFrom(client, new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'connection closed'))
    if (client.awarenessIds.size > 0) {
      awarenessProtocol.removeAwarenessStates(this.awareness, [...client.awarenessIds], null)
    }
    this.awarenessOwners.release(client)
    this.#maybeIdle()
  }

  /** Keeps the document loaded while `fn` runs (peer replication, admin reads). */
  async hold<T>(fn: () => Promise<T> | T): Promise<T> {
    this.#holds++
    this.#cancelIdle()
    try {
      return await fn()
    } finally {
      this.#holds--
      this.#maybeIdle()
    }
  }

  #cancelIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer)
    this.#idleTimer = null
  }

  #maybeIdle(): void {
    if (this.closed || this.broken || !this.idle || this.#idleTimer) return
    if (this.#stored === null) {
      // Still loading: decide once it is known whether the store holds it.
      this.ready.then(
        () => this.#maybeIdle(),
        () => {},
      )
      return
    }
    // A document only peers touched goes quickly: recovery must not hold thousands in memory. One
    // that nothing was ever stored of goes at once: sockets that open documents and never write
    // must not be able to keep thousands of them loaded for the idle window.
    const delay = !this.#stored ? 0 : this.#hadClients ? this.host.idleMs : Math.min(this.host.idleMs, 1000)
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null
      if (this.idle) this.host.onIdle(this)
    }, delay)
    this.#idleTimer.unref?.()
  }

  /** True when nothing keeps the document in memory (held parts of a peer's updates do). */
  get idle(): boolean {
    return this.clients.size === 0 && this.#holds === 0 && this.#pending.size === 0
  }

  /** Frees memory; the caller has awaited `whenCommitted()`. */
  destroy(): void {
    this.closed = true
    this.#cancelIdle()
    this.#pending.dropAll(new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'document unloaded'))
    this.awareness.destroy()
    this.ydoc.destroy()
  }
}
