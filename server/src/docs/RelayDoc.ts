import { ErrorCode, encodeAwareness, encodeSyncUpdate, RhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { AwarenessOwners } from './AwarenessOwners.js'

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
  /** The document may be evicted now. */
  onIdle(doc: RelayDoc): void
  readonly idleMs: number
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
  closed = false

  constructor(
    readonly name: string,
    private readonly host: DocHost,
  ) {
    // The name as guid: a random one would cost a cryptographic random draw per load.
    this.ydoc = new Y.Doc({ gc: true, guid: name })
    this.awareness = new awarenessProtocol.Awareness(this.ydoc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', this.#awarenessOnUpdate)
    this.ready = this.#load()
    // A failed load is reported to whoever awaits `ready`; never an unhandled rejection.
    this.ready.catch(() => {})
  }

  async #load(): Promise<void> {
    await this.host.store.loadInto(this.name, this.ydoc, LOAD_ORIGIN)
    this.ydoc.on('update', this.#docOnUpdate)
  }

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
    const commit = this.host.store.append(this.name, update, { decoded })
    commit.catch((err) => this.host.onPersistFailure(this, err))
    this.#lastCommit = commit
  }

  /** Resolves once everything applied so far is durable in the store. */
  whenCommitted(): Promise<void> {
    return this.#lastCommit
  }

  /**
   * Applies an update from a client or a peer. Returns true when the document changed.
   * @throws RhizomeError PROTOCOL_MALFORMED when Yjs cannot decode or apply it; nothing is applied.
   */
  apply(update: Uint8Array, origin: unknown): boolean {
    try {
      Y.decodeUpdate(update)
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be decoded', { cause })
    }
    let changed = false
    const mark = () => {
      changed = true
    }
    this.ydoc.on('update', mark)
    try {
      Y.applyUpdate(this.ydoc, update, origin)
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be applied', { cause })
    } finally {
      this.ydoc.off('update', mark)
    }
    // Structs whose dependencies are missing wait in memory and are stored (through the update
    // event) once they integrate. They are never stored raw: an update Yjs could not integrate
    // must not reach the store, and an ACK covers only what was applied (docs/PROTOCOL.md section 3).
    return changed
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
    if (this.closed || this.clients.size > 0 || this.#holds > 0 || this.#idleTimer) return
    // A document only peers touched goes quickly: recovery must not hold thousands in memory.
    const delay = this.#hadClients ? this.host.idleMs : Math.min(this.host.idleMs, 1000)
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null
      if (this.clients.size === 0 && this.#holds === 0) this.host.onIdle(this)
    }, delay)
    this.#idleTimer.unref?.()
  }

  /** True when nothing keeps the document in memory. */
  get idle(): boolean {
    return this.clients.size === 0 && this.#holds === 0
  }

  /** Frees memory; the caller has awaited `whenCommitted()`. */
  destroy(): void {
    this.closed = true
    this.#cancelIdle()
    this.awareness.destroy()
    this.ydoc.destroy()
  }
}
