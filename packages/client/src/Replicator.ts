import { type BackoffOptions, ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import { CheckpointStore } from './CheckpointStore.js'
import type { DocHandle } from './DocHandle.js'
import { DocLocks } from './DocLocks.js'
import { LocalDocs } from './LocalDocs.js'
import { checkPattern } from './patterns.js'
import { RelaySession, type RelaySessionStatus, type WebSocketClass } from './RelaySession.js'
import { type SessionDoc, SessionSync, type SyncHost } from './SessionSync.js'
import type { Tombstones } from './Tombstones.js'
import type { TokenSource } from './tokenSource.js'

/** What `replica.on('status', ...)` reports (docs/PROTOCOL.md section 7.1). */
export interface ReplicaStatus {
  relays: RelaySessionStatus[]
}

/** Options of a {@link Replicator}. */
export interface ReplicatorOptions {
  relays: readonly string[]
  token: TokenSource
  WebSocket: WebSocketClass
  backoff?: BackoffOptions
  deadAfterMs?: number
  patterns: readonly string[]
  /** Documents the relays deleted, loaded from the local store. */
  tombstones: Tombstones
  /** Documents that newly arrived in the local store (batched). */
  onDocs(names: string[]): void
  /** The replica's status changed. */
  onStatus(status: ReplicaStatus): void
}

/**
 * Namespace replication of one replica: one {@link SessionSync} per relay URL, the patterns they
 * replicate, updates passed from one relay's session to the others (the device is a replica, so
 * relays that do not mesh converge through it), relays counted by relay id (a second URL of one
 * relay is a `duplicate`), and `whenReplicated`.
 */
export class Replicator implements SyncHost {
  readonly local: LocalDocs
  readonly locks = new DocLocks()
  /** One per relay URL, in the order of the options. */
  readonly sessions: readonly SessionSync[]
  readonly #patterns: string[] = []
  readonly #open = new Map<string, DocHandle>()
  readonly #options: ReplicatorOptions
  readonly #refusalWaiters = new Set<() => void>()
  #lastStatus = ''
  #closed = false

  constructor(store: DocStore, options: ReplicatorOptions) {
    this.#options = options
    this.local = new LocalDocs(store, (names) => options.onDocs(names), options.tombstones)
    for (const p of options.patterns) this.#addPattern(p)
    this.sessions = options.relays.map(
      (url) =>
        new SessionSync(
          (host) =>
            new RelaySession({
              url,
              WebSocket: options.WebSocket,
              token: options.token,
              backoff: options.backoff,
              deadAfterMs: options.deadAfterMs,
              host,
            }),
          this,
          new CheckpointStore(store, url),
        ),
    )
  }

  /** Opens every session. */
  start(): void {
    for (const s of this.sessions) s.session.start()
  }

  /** The current status. */
  get status(): ReplicaStatus {
    return { relays: this.sessions.map((s) => s.session.status) }
  }

  /** The replicated patterns. */
  patterns(): readonly string[] {
    return this.#patterns
  }

  /**
   * Adds a pattern: every welcomed session lists its documents in a round of its own right away
   * (the others include it when they connect). A pattern already replicated changes nothing.
   * @throws TypeError for a pattern outside docs/PROTOCOL.md section 5 syntax.
   */
  replicate(pattern: string): void {
    checkPattern(pattern)
    if (!this.#addPattern(pattern)) return
    for (const s of this.sessions) s.replicate([pattern])
  }

  /** Registers an open handle (it attaches to the sessions itself). */
  opened(handle: DocHandle): void {
    this.#open.set(handle.name, handle)
  }

  /** Forgets a closed handle. */
  closedHandle(handle: DocHandle): void {
    if (this.#open.get(handle.name) === handle) this.#open.delete(handle.name)
    this.local.closed(handle.name, handle)
  }

  /**
   * Resolves once, for at least one welcomed relay, the local store holds every document matching
   * the patterns in at least the state that relay held at the call (docs/PROTOCOL.md section 7.1).
   * @throws RhizomeError TIMEOUT after `timeout` ms; RELAY_UNAVAILABLE without relays, or once every
   *   relay refused the session (with that refusal); STORE_CLOSED when the replica closes first.
   */
  whenReplicated(timeout?: number): Promise<void> {
    if (this.sessions.length === 0) {
      return Promise.reject(new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'no relay configured'))
    }
    return new Promise<void>((resolve, reject) => {
      let done = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (err: RhizomeError | null) => {
        if (done) return
        done = true
        clearTimeout(timer)
        this.#refusalWaiters.delete(checkRefused)
        if (err === null) resolve()
        else reject(err)
      }
      const checkRefused = () => {
        if (this.#closed) finish(new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed'))
        const refused = this.sessions.map((s) => s.session.status)
        if (refused.every((r) => r.state === 'refused')) {
          finish(refused[0]?.error ?? new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'every relay refused'))
        }
      }
      if (timeout !== undefined) {
        timer = setTimeout(
          () =>
            finish(new RhizomeError(ErrorCode.TIMEOUT, `not replicated from any relay after ${timeout} ms`)),
          timeout,
        )
      }
      this.#refusalWaiters.add(checkRefused)
      checkRefused()
      for (const s of this.sessions) {
        s.whenCaughtUp().then((ok) => {
          if (ok) finish(null)
        })
      }
    })
  }

  /** Closes every session's socket and stops retrying until {@link connect} (about a second at most). */
  async disconnect(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.session.disconnect()))
  }

  /** Reconnects every session {@link disconnect} closed (and gives refused ones another attempt). */
  connect(): void {
    for (const s of this.sessions) s.session.connect()
  }

  /** Closes every session (waiting for their sockets to close, about a second at most). */
  async close(): Promise<void> {
    this.#closed = true
    for (const check of [...this.#refusalWaiters]) check()
    await Promise.all(this.sessions.map((s) => s.close()))
  }

  // ---- SyncHost ------------------------------------------------------------------------------

  /** See {@link SyncHost.openDocs}. */
  openDocs(): Iterable<SessionDoc> {
    return this.#open.values()
  }

  /** See {@link SyncHost.acceptRelay}: one welcomed session per relay id. */
  acceptRelay(sync: SessionSync, relayId: string): boolean {
    return !this.sessions.some((s) => s !== sync && s.session.ready && s.session.relayId === relayId)
  }

  /** See {@link SyncHost.forward}. */
  forward(from: SessionSync, doc: string, update: Uint8Array, kind: 'live' | 'answer'): void {
    for (const s of this.sessions) if (s !== from) s.forward(doc, update, kind)
  }

  /** See {@link SyncHost.changed}. */
  changed(sync: SessionSync): void {
    this.#wakeDuplicates(sync.session.relayId)
    for (const check of [...this.#refusalWaiters]) check()
    // A document's status shows its relays' session states too.
    for (const handle of this.#open.values()) handle.linkChanged()
    const status = this.status
    const key = JSON.stringify(status, (_k, v) => (v instanceof RhizomeError ? `${v.code}:${v.message}` : v))
    if (key === this.#lastStatus) return
    this.#lastStatus = key
    this.#options.onStatus(status)
  }

  /**
   * See {@link SyncHost.deleted}: the tombstone first (every later store write, read and push of
   * the document checks it), then an open handle reports `deleted: true` and stops storing and
   * sending, then the document's records leave the local store.
   */
  deleted(doc: string, at: number): void {
    if (!this.local.tombstones.add(doc, at).added) return
    const handle = this.#open.get(doc)
    const writesDone = handle?.markDeleted() ?? Promise.resolve()
    this.local.purge(doc, writesDone).catch((err: unknown) => {
      console.warn(`rhizome client: removing deleted document ${doc} from the local store failed:`, err)
    })
  }

  /** A `duplicate` URL of a relay retries once no other URL of that relay is up or coming up. */
  #wakeDuplicates(relayId: string | null): void {
    if (relayId === null || this.#closed) return
    const same = this.sessions.filter((s) => s.session.relayId === relayId)
    const live = same.some((s) => ['connecting', 'syncing', 'synced'].includes(s.session.state))
    if (live) return
    same.find((s) => s.session.state === 'duplicate')?.session.start()
  }

  #addPattern(pattern: string): boolean {
    checkPattern(pattern)
    if (this.#patterns.includes(pattern)) return false
    this.#patterns.push(pattern)
    return true
  }
}
