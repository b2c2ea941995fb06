import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import { ObservableV2 } from 'lib0/observable'
import { Awareness, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import type { DocLink } from './DocLink.js'
import { DocWaiters, type WaitOptions } from './DocWaiters.js'
import { combinedCopies } from './DurabilityTracker.js'
import { type DocStatus, type RelayStatus, relayStatus, statusKey } from './docStatus.js'
import { LocalAppends } from './LocalAppends.js'
import type { SessionDoc, SessionSync } from './SessionSync.js'

export type { WaitOptions } from './DocWaiters.js'
export type { DocStatus, RelayState, RelayStatus } from './docStatus.js'

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
  private readonly sessions: readonly SessionSync[]
  private readonly links = new Map<SessionSync, DocLink>()
  private readonly events = new ObservableV2<DocHandleEvents>()
  private readonly waiters = new DocWaiters()
  private readonly appends: LocalAppends
  private readonly onClose: (handle: DocHandle) => void
  private localVersion: number
  private lastStatus = ''
  private wasSynced = false
  private deletedOnRelays = false
  private closing: Promise<void> | null = null

  /** @internal Use `replica.open(name)`. */
  constructor(ctx: DocHandleContext) {
    this.name = ctx.name
    this.doc = ctx.doc
    this.onClose = ctx.onClose
    this.appends = new LocalAppends(
      ctx.store,
      ctx.name,
      () => this.waiters.settle(),
      (err) => this.events.emit('error', [err]),
    )
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
    const offline = this.closing !== null || this.deletedOnRelays
    return relayStatus(sync.session.status, this.links.get(sync), offline, this.localVersion)
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
    if (this.isGone()) return this.goneError()
    return this.waiters.untilSynced(
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
    if (this.isGone()) return this.goneError()
    const target = this.localVersion
    const append = this.appends.issued
    const appends = this.appends
    // Trackers of links that come later (a session welcomed after this call) count too.
    const trackers = () => [...this.links.values()].map((l) => l.tracker)
    return this.waiters.untilDurable(
      k,
      () => {
        if (appends.error !== null) throw appends.error
        return appends.done >= append && (k === 0 || combinedCopies(trackers(), target) >= k)
      },
      options,
      () =>
        `${this.name}: ${combinedCopies(trackers(), target)} of ${k} relay copies` +
        (appends.done >= append ? '' : ', local write pending'),
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
      this.waiters.rejectAll(
        new RhizomeError(ErrorCode.STORE_CLOSED, `document ${this.name} was deleted on the relays`),
      )
      this.refresh()
    }
    this.deletedOnRelays = true
    return this.appends.settled()
  }

  private async doClose(): Promise<void> {
    // Our presence leaves first (sent by awarenessOnUpdate), then the document closes on every session.
    removeAwarenessStates(this.awareness, [this.doc.clientID], 'close')
    this.awareness.off('update', this.awarenessOnUpdate)
    for (const sync of this.links.keys()) sync.release(this.name)
    this.links.clear()
    this.awareness.destroy()
    this.doc.off('update', this.docOnUpdate)
    await this.appends.settled()
    this.waiters.rejectAll(new RhizomeError(ErrorCode.STORE_CLOSED, `document ${this.name} was closed`))
    this.onClose(this)
  }

  private readonly docOnUpdate = (update: Uint8Array, origin: unknown): void => {
    // A document deleted before it was opened: nothing of it is stored or sent.
    if (this.deletedOnRelays) return
    this.localVersion++
    this.appends.append(update)
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
    const key = statusKey(status)
    if (key !== this.lastStatus) {
      this.lastStatus = key
      this.events.emit('status', [status])
    }
    const synced = status.relays.some((r) => r.state === 'synced')
    if (synced !== this.wasSynced) {
      this.wasSynced = synced
      if (synced) this.events.emit('synced', [])
    }
    this.waiters.settle()
  }

  private isGone(): boolean {
    return this.closing !== null || this.deletedOnRelays
  }

  private goneError(): Promise<never> {
    const why = this.closing !== null ? 'closed' : 'deleted on the relays'
    return Promise.reject(new RhizomeError(ErrorCode.STORE_CLOSED, `document ${this.name} was ${why}`))
  }
}
