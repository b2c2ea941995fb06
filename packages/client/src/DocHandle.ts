import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import { ObservableV2 } from 'lib0/observable'
import { Awareness, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import type { DocLink } from './DocLink.js'
import { combinedCopies } from './DurabilityTracker.js'
import type { SessionDoc, SessionSync } from './SessionSync.js'

/**
 * Where one relay stands for one open document:
 * - `connecting` / `offline` / `duplicate`: the replica's session with that relay is in that state
 *   (after `replica.disconnect()`: `offline`, with `disconnected: true` in the {@link RelayStatus});
 * - `syncing`: the session is up; this document's state is being exchanged;
 * - `synced`: both sides exchanged their state; live updates flow;
 * - `refused`: the relay refused the session (4400-4499) or this document (4403).
 */
export type RelayState = 'connecting' | 'syncing' | 'synced' | 'offline' | 'refused' | 'duplicate'

/** One relay in a {@link DocStatus}. */
export interface RelayStatus {
  /** The relay's base URL as given to `openReplica`. */
  url: string
  /** Where this relay stands for the document; see {@link RelayState}. */
  state: RelayState
  /** Relay stores this relay says durably hold the whole local state (0: not known to hold it). */
  copies: number
  /** The last failure on this relay or of this document there; cleared once synced again. */
  error?: RhizomeError
  /** The close code of the last socket the relay closed, or the code the relay refused this document with. */
  closeCode?: number
  /** `true` while the app keeps the replica disconnected (`replica.disconnect()`); absent otherwise. */
  disconnected?: boolean
}

/** What `handle.on('status', ...)` reports: every relay, and the copies of the whole local state. */
export interface DocStatus {
  /** Every relay of the replica, in the order of `openReplica({ relays })`. */
  relays: RelayStatus[]
  /** Relay stores that durably hold the whole local replica right now (see {@link DocHandle.copies}). */
  copies: number
  /**
   * `true` once the relays deleted the document (docs/PROTOCOL.md sections 7.1 and 9): it left the
   * local store, edits on `doc` are neither stored nor sent, every relay reports `offline`. Absent
   * otherwise.
   */
  deleted?: boolean
}

/** Events of a {@link DocHandle}. */
export interface DocHandleEvents {
  /** Any change of a relay's state, copies or error, or of the handle's copies. */
  status: (status: DocStatus) => void
  /** A local store write failed; the edit is in memory only. */
  error: (error: RhizomeError) => void
  /**
   * The document became synced with at least one relay ({@link DocHandle.synced} turned true):
   * once after opening, and again after every loss of all synced relays followed by a resync.
   */
  synced: () => void
}

/** Options of {@link DocHandle.whenDurable} and {@link DocHandle.whenSynced}. */
export interface WaitOptions {
  /** Reject with RhizomeError TIMEOUT after this many ms. Default: wait until the handle closes. */
  timeout?: number
}

/** What a handle needs from its replica. @internal */
export interface DocHandleContext {
  name: string
  doc: Y.Doc
  store: DocStore
  /** True when the local store had the document: its state counts as one more local version. */
  loaded: boolean
  /** True when the relays deleted the document before it was opened. */
  deleted?: boolean
  /** The replica's relay sessions, in the order of its relay URLs. */
  sessions: readonly SessionSync[]
  onClose(handle: DocHandle): void
}

interface Waiter {
  ready(): boolean
  resolve(): void
  reject(err: unknown): void
  timer: ReturnType<typeof setTimeout> | null
  done: boolean
}

/**
 * An open document: its `Y.Doc` backed by the local store, synced over the replica's one session
 * per relay (no socket of its own). Edits on `doc` (and updates from relays) are appended to the
 * local store as they happen and sent to every connected relay; updates from one relay reach the
 * others through this replica.
 */
export class DocHandle implements SessionDoc {
  /** The document name. */
  readonly name: string
  /** The Yjs document. Edits after {@link DocHandle.close} are neither stored nor sent. */
  readonly doc: Y.Doc
  /** Presence: one Awareness shared by every relay connection of this document. */
  readonly awareness: Awareness
  private readonly store: DocStore
  private readonly sessions: readonly SessionSync[]
  private readonly links = new Map<SessionSync, DocLink>()
  private readonly events = new ObservableV2<DocHandleEvents>()
  private readonly syncWaiters = new Set<Waiter>()
  /**
   * whenDurable waiters by `k`, in call order. Along one queue the target (local version and
   * append) only grows, so readiness is monotone: settling pops a ready prefix and stops at the
   * first waiter that is not ready, which keeps a burst of edits each awaiting durability linear.
   */
  private readonly durableQueues = new Map<number, Waiter[]>()
  private readonly pendingAppends = new Set<Promise<void>>()
  /** Appends issued so far; append i is number i (from 1). */
  private appendsIssued = 0
  /** Every append up to this number is durable in the local store. */
  private appendsDone = 0
  private readonly doneOutOfOrder = new Set<number>()
  private readonly onClose: (handle: DocHandle) => void
  private localVersion: number
  private storeError: RhizomeError | null = null
  private lastStatus = ''
  private wasSynced = false
  private deletedOnRelays = false
  private closing: Promise<void> | null = null

  /** @internal Use `replica.open(name)`. */
  constructor(ctx: DocHandleContext) {
    this.name = ctx.name
    this.doc = ctx.doc
    this.store = ctx.store
    this.onClose = ctx.onClose
    this.localVersion = ctx.loaded ? 1 : 0
    this.deletedOnRelays = ctx.deleted === true
    // Registered before any provider's listener, so a frame sent for an update is counted with
    // the version that includes it.
    this.doc.on('update', this.docOnUpdate)
    this.awareness = new Awareness(this.doc)
    this.sessions = ctx.sessions
    this.awareness.on('update', this.awarenessOnUpdate)
    for (const sync of this.sessions) this.attach(sync)
    this.refresh()
  }

  /** Relay stores that durably hold the whole local replica right now; see docs/PROTOCOL.md section 7. */
  get copies(): number {
    return combinedCopies(
      [...this.links.values()].map((l) => l.tracker),
      this.localVersion,
    )
  }

  /** The current status, as the `status` event reports it. */
  get status(): DocStatus {
    const status: DocStatus = { relays: this.sessions.map((s) => this.relayStatus(s)), copies: this.copies }
    if (this.deletedOnRelays) status.deleted = true
    return status
  }

  /**
   * True while at least one relay is `synced` for this document (both sides exchanged their
   * state; live updates flow), as y-websocket's `provider.synced`. False after close or deletion.
   */
  get synced(): boolean {
    return this.status.relays.some((r) => r.state === 'synced')
  }

  private relayStatus(sync: SessionSync): RelayStatus {
    const session = sync.session.status
    const link = this.links.get(sync)
    let state: RelayState
    if (this.closing !== null || this.deletedOnRelays) state = 'offline'
    else if (link !== undefined) state = link.state
    else if (session.state === 'syncing' || session.state === 'synced') state = 'syncing'
    else state = session.state
    const s: RelayStatus = { url: session.url, state, copies: link?.tracker.copiesAt(this.localVersion) ?? 0 }
    const error = link?.error ?? session.error
    if (error !== undefined && error !== null) s.error = error
    if (link?.error) s.closeCode = link.refusedCode
    else if (session.closeCode !== undefined) s.closeCode = session.closeCode
    if (session.disconnected) s.disconnected = true
    return s
  }

  /** @internal The local version (see DurabilityTracker). */
  version(): number {
    return this.localVersion
  }

  /** @internal A link's or a session's state, copies or error changed. */
  linkChanged(): void {
    this.refresh()
  }

  /** @internal The session was welcomed: sync this document on it. */
  attach(sync: SessionSync): void {
    if (this.closing !== null || this.deletedOnRelays || this.links.has(sync)) return
    const link = sync.attach(this)
    if (link !== null) this.links.set(sync, link)
    this.refresh()
  }

  /** @internal The session went down: drop its link and the presence seen only through it. */
  detach(sync: SessionSync): void {
    const link = this.links.get(sync)
    if (link === undefined) return
    this.links.delete(sync)
    const stillSeen = new Set<number>([this.doc.clientID])
    for (const other of this.links.values()) for (const id of other.seenClients) stillSeen.add(id)
    const gone = [...link.seenClients].filter((id) => !stillSeen.has(id))
    if (gone.length > 0) removeAwarenessStates(this.awareness, gone, sync.session)
    this.refresh()
  }

  /**
   * Subscribes to an event.
   * @returns a function that unsubscribes this listener (the same as {@link DocHandle.off}); idempotent.
   */
  on<E extends keyof DocHandleEvents>(event: E, listener: DocHandleEvents[E]): () => void {
    this.events.on(event, listener)
    return () => this.events.off(event, listener)
  }

  /** Unsubscribes a listener added with {@link DocHandle.on}. */
  off<E extends keyof DocHandleEvents>(event: E, listener: DocHandleEvents[E]): void {
    this.events.off(event, listener)
  }

  /**
   * Resolves once at least one relay connection is synced (both sides exchanged their state).
   * Rejects with the relays' error when every relay refused the document (or none is configured),
   * with RhizomeError TIMEOUT after `timeout` ms, and with STORE_CLOSED when the handle closes.
   */
  whenSynced(options: WaitOptions = {}): Promise<void> {
    return this.wait(
      this.syncWaiters,
      () => {
        const relays = this.status.relays
        if (relays.some((r) => r.state === 'synced')) return true
        if (relays.every((r) => r.state === 'refused')) {
          throw relays[0]?.error ?? new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'no relay configured')
        }
        return false
      },
      options,
      () => `not synced with any relay of ${this.name}`,
    )
  }

  /**
   * Resolves once the local state as of this call is in the local store and durably held by at
   * least `k` relay stores (by ACK; `k = 0` waits for the local store only). Edits made after the
   * call are not waited for. Rejects with RhizomeError TIMEOUT after `timeout` ms, with the store's
   * error if a local write failed, and with STORE_CLOSED when the handle closes first.
   */
  whenDurable(k: number, options: WaitOptions = {}): Promise<void> {
    if (!Number.isInteger(k) || k < 0)
      throw new TypeError(`whenDurable needs a non-negative integer, got ${k}`)
    const target = this.localVersion
    const append = this.appendsIssued
    // Trackers of links that come later (a session welcomed after this call) count too.
    const trackers = () => [...this.links.values()].map((l) => l.tracker)
    let queue = this.durableQueues.get(k)
    if (queue === undefined) {
      queue = []
      this.durableQueues.set(k, queue)
    }
    return this.wait(
      queue,
      () => {
        if (this.storeError !== null) throw this.storeError
        return this.appendsDone >= append && (k === 0 || combinedCopies(trackers(), target) >= k)
      },
      options,
      () =>
        `${this.name}: ${combinedCopies(trackers(), target)} of ${k} relay copies` +
        (this.appendsDone >= append ? '' : ', local write pending'),
    )
  }

  /**
   * Tells every relay our presence is gone and that the document closed (the sessions stay up for
   * the replica's other documents), waits for every local write and stops storing edits. Pending
   * waits reject with STORE_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.doClose()
    return this.closing
  }

  /**
   * @internal The relays deleted the document: our presence leaves, the document closes on every
   * session, edits are no longer stored or sent, pending waits reject with STORE_CLOSED, and a
   * status with `deleted: true` is emitted. The handle stays open (the app decides what to show).
   * Resolves once the local writes issued before have settled (the store may then purge it).
   */
  markDeleted(): Promise<void> {
    if (!this.deletedOnRelays && this.closing === null) {
      this.deletedOnRelays = true
      removeAwarenessStates(this.awareness, [this.doc.clientID], 'deleted')
      for (const sync of this.links.keys()) sync.release(this.name)
      this.links.clear()
      this.doc.off('update', this.docOnUpdate)
      const err = new RhizomeError(ErrorCode.STORE_CLOSED, `document ${this.name} was deleted on the relays`)
      for (const w of this.syncWaiters) this.finish(w, err)
      for (const queue of this.durableQueues.values()) for (const w of queue) this.finish(w, err)
      this.durableQueues.clear()
      this.refresh()
    }
    this.deletedOnRelays = true
    return Promise.allSettled([...this.pendingAppends]).then(() => {})
  }

  private async doClose(): Promise<void> {
    // Our presence leaves first (sent by awarenessOnUpdate), then the document closes on every session.
    removeAwarenessStates(this.awareness, [this.doc.clientID], 'close')
    this.awareness.off('update', this.awarenessOnUpdate)
    for (const sync of this.links.keys()) sync.release(this.name)
    this.links.clear()
    this.awareness.destroy()
    this.doc.off('update', this.docOnUpdate)
    await Promise.allSettled([...this.pendingAppends])
    const err = new RhizomeError(ErrorCode.STORE_CLOSED, `document ${this.name} was closed`)
    for (const w of this.syncWaiters) this.finish(w, err)
    for (const queue of this.durableQueues.values()) for (const w of queue) this.finish(w, err)
    this.durableQueues.clear()
    this.onClose(this)
  }

  private readonly docOnUpdate = (update: Uint8Array, origin: unknown): void => {
    // A document deleted before it was opened: nothing of it is stored or sent.
    if (this.deletedOnRelays) return
    this.localVersion++
    const seq = ++this.appendsIssued
    const append = this.store.append(this.name, update)
    this.pendingAppends.add(append)
    append.then(
      () => {
        this.pendingAppends.delete(append)
        this.doneOutOfOrder.add(seq)
        while (this.doneOutOfOrder.delete(this.appendsDone + 1)) this.appendsDone++
        this.settleWaiters()
      },
      (cause) => {
        this.pendingAppends.delete(append)
        this.storeError =
          cause instanceof RhizomeError
            ? cause
            : new RhizomeError(ErrorCode.STORE_CLOSED, `local write of ${this.name} failed`, { cause })
        this.events.emit('error', [this.storeError])
        this.settleWaiters()
      },
    )
    // Every relay gets it but the one it came from, which gets a probe so its ACK covers it.
    for (const link of this.links.values()) {
      if (link.session === origin) link.queueProbe()
      else link.sendUpdate(update)
    }
    this.refresh()
  }

  private readonly awarenessOnUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    _origin: unknown,
  ): void => {
    const self = this.doc.clientID
    if (!added.includes(self) && !updated.includes(self) && !removed.includes(self)) return
    const update = encodeAwarenessUpdate(this.awareness, [self])
    for (const link of this.links.values()) link.sendAwareness(update)
  }

  private refresh(): void {
    const status = this.status
    const key = JSON.stringify(status, (_k, v) => (v instanceof RhizomeError ? `${v.code}:${v.message}` : v))
    if (key !== this.lastStatus) {
      this.lastStatus = key
      this.events.emit('status', [status])
    }
    const synced = status.relays.some((r) => r.state === 'synced')
    if (synced !== this.wasSynced) {
      this.wasSynced = synced
      if (synced) this.events.emit('synced', [])
    }
    this.settleWaiters()
  }

  private wait(
    into: Set<Waiter> | Waiter[],
    ready: () => boolean,
    options: WaitOptions,
    describe: () => string,
  ): Promise<void> {
    if (this.closing !== null || this.deletedOnRelays) {
      const why = this.closing !== null ? 'closed' : 'deleted on the relays'
      return Promise.reject(new RhizomeError(ErrorCode.STORE_CLOSED, `document ${this.name} was ${why}`))
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { ready, resolve, reject, timer: null, done: false }
      if (options.timeout !== undefined) {
        waiter.timer = setTimeout(() => {
          this.finish(
            waiter,
            new RhizomeError(ErrorCode.TIMEOUT, `timed out after ${options.timeout} ms: ${describe()}`),
          )
        }, options.timeout)
      }
      if (into instanceof Set) into.add(waiter)
      else into.push(waiter)
      this.settleWaiters()
    })
  }

  private settleWaiters(): void {
    for (const w of this.syncWaiters) if (this.settle(w)) this.syncWaiters.delete(w)
    for (const queue of this.durableQueues.values()) {
      let i = 0
      while (i < queue.length && this.settle(queue[i]!)) i++
      if (i > 0) queue.splice(0, i)
    }
  }

  /** Finishes the waiter if it is ready or failed; returns true when it is done. */
  private settle(waiter: Waiter): boolean {
    if (waiter.done) return true
    try {
      if (!waiter.ready()) return false
      this.finish(waiter, null)
    } catch (err) {
      this.finish(waiter, err)
    }
    return true
  }

  private finish(waiter: Waiter, err: unknown): void {
    if (waiter.done) return
    waiter.done = true
    if (waiter.timer !== null) clearTimeout(waiter.timer)
    if (err === null) waiter.resolve()
    else waiter.reject(err)
  }
}
