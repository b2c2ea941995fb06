import { type BackoffOptions, docNameProblem, ErrorCode, RhizomeError } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { Level } from 'level'
import { ObservableV2 } from 'lib0/observable'
import { DocHandle } from './DocHandle.js'
import { checkPattern } from './patterns.js'
import type { WebSocketClass } from './RelaySession.js'
import { type ReplicaStatus, Replicator } from './Replicator.js'
import { Tombstones } from './Tombstones.js'
import { type TokenOption, tokenSource } from './tokenSource.js'

/** Any abstract-level database, as the store accepts it. */
type AnyLevel = Parameters<typeof DocStore.open>[0]

/** Options of {@link openReplica}. */
export interface ReplicaOptions {
  /** Relay base URLs (`ws://host:port`); the replica holds one session with each. May be empty. */
  relays: readonly string[]
  /**
   * The local replica: in Node a LevelDB directory, in browsers an IndexedDB database name (both
   * through `level`), or any abstract-level database (opened if needed; `replica.close()` closes it).
   */
  storage: string | AnyLevel
  /**
   * JWT sent to every relay as `?token=`: a string, or a function (sync or async) called at every
   * (re)connect. With a function, a 4401 (expired) makes the session ask again and reconnect; only
   * a token refused again marks that relay `refused`.
   */
  token?: TokenOption
  /** Patterns (docs/PROTOCOL.md section 5 syntax) whose documents are kept replicated, open or not. */
  replicate?: readonly string[]
  /** WebSocket implementation; default: the global one, else `ws` in Node. */
  WebSocket?: WebSocketClass
  /** Reconnect schedule per relay session (capped exponential backoff with full jitter). */
  backoff?: BackoffOptions
  /** A session that received nothing for this many ms is dead and reconnects. Default 30 000. */
  deadAfterMs?: number
}

/** Events of a {@link Replica}. */
export interface ReplicaEvents {
  /** Documents that newly arrived in the local store (replicated, not created here), sorted. */
  docs: (names: string[]) => void
  /** Any change of a relay session's state, id or error. */
  status: (status: ReplicaStatus) => void
}

/** Options of {@link Replica.whenReplicated}. */
export interface ReplicatedOptions {
  /** Reject with RhizomeError TIMEOUT after this many ms. Default: wait until the replica closes. */
  timeout?: number
}

async function defaultWebSocket(): Promise<WebSocketClass> {
  const global = (globalThis as { WebSocket?: WebSocketClass }).WebSocket
  if (global !== undefined) return global
  // Node 20 has no global WebSocket. Browsers never get here, so bundlers may stub `ws`.
  const ws = await import('ws')
  return ws.WebSocket as unknown as WebSocketClass
}

/**
 * A device's replica (docs/PROTOCOL.md sections 7 and 7.1): a local store holding every document it
 * opened or replicates, and one session with each relay that carries all of them. Create it with
 * {@link openReplica}.
 */
export class Replica {
  /** The relay URLs, one session each. */
  readonly relays: readonly string[]
  /** The local store. */
  readonly store: DocStore
  readonly #replicator: Replicator
  readonly #handles = new Map<string, Promise<DocHandle>>()
  readonly #events = new ObservableV2<ReplicaEvents>()
  #closing: Promise<void> | null = null

  /** @internal Use {@link openReplica}. */
  constructor(store: DocStore, WebSocket: WebSocketClass, options: ReplicaOptions, tombstones: Tombstones) {
    this.store = store
    this.relays = [...options.relays]
    this.#replicator = new Replicator(store, {
      relays: this.relays,
      token: tokenSource(options.token),
      WebSocket,
      backoff: options.backoff,
      deadAfterMs: options.deadAfterMs,
      patterns: options.replicate ?? [],
      tombstones,
      onDocs: (names) => this.#events.emit('docs', [names]),
      onStatus: (status) => this.#events.emit('status', [status]),
    })
    this.#replicator.start()
  }

  /** Every relay session: `{ relays: [{ url, id, state, error? }] }`. */
  get status(): ReplicaStatus {
    return this.#replicator.status
  }

  /** The replicated patterns. */
  get patterns(): readonly string[] {
    return this.#replicator.patterns()
  }

  /**
   * Subscribes to an event.
   * @returns a function that unsubscribes this listener (the same as {@link Replica.off}); idempotent.
   */
  on<E extends keyof ReplicaEvents>(event: E, listener: ReplicaEvents[E]): () => void {
    this.#events.on(event, listener)
    return () => this.#events.off(event, listener)
  }

  /** Unsubscribes a listener added with {@link Replica.on}. */
  off<E extends keyof ReplicaEvents>(event: E, listener: ReplicaEvents[E]): void {
    this.#events.off(event, listener)
  }

  /**
   * Opens a document: loads the local replica into a new Y.Doc before it resolves (no network
   * round trip: usable offline from the first frame), then syncs it over every relay session.
   * Opening a name that is already open returns the same handle.
   * @throws RhizomeError DOC_NAME_INVALID for a name outside docs/PROTOCOL.md section 2;
   *   STORE_CLOSED after {@link Replica.close}; the store's error if loading fails.
   */
  open(name: string): Promise<DocHandle> {
    if (this.#closing !== null) {
      return Promise.reject(new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed'))
    }
    const problem = docNameProblem(name)
    if (problem !== null) {
      return Promise.reject(new RhizomeError(ErrorCode.DOC_NAME_INVALID, `invalid document name: ${problem}`))
    }
    let handle = this.#handles.get(name)
    if (handle === undefined) {
      handle = this.#load(name)
      this.#handles.set(name, handle)
      handle.catch(() => this.#handles.delete(name))
    }
    return handle
  }

  #load(name: string): Promise<DocHandle> {
    const replicator = this.#replicator
    return replicator.local.open(name, (doc, loaded) => {
      const handle = new DocHandle({
        name,
        doc,
        store: this.store,
        loaded,
        deleted: replicator.local.isDeleted(name),
        sessions: replicator.sessions,
        onClose: (h) => {
          replicator.closedHandle(h)
          if (this.#closing === null) this.#handles.delete(h.name)
        },
      })
      replicator.opened(handle)
      return handle
    })
  }

  /** Names of the documents open right now. */
  get openDocuments(): string[] {
    return [...this.#handles.keys()]
  }

  /**
   * Adds a replication pattern (docs/PROTOCOL.md section 5 syntax): its documents are pulled, kept
   * current in the local store and pushed, open or not. Resolves once every connected relay was
   * asked for them (use {@link Replica.whenReplicated} to wait for the documents). Patterns added
   * here last for this replica; pass them in `replicate` again after a restart.
   * @throws TypeError for an invalid pattern; RhizomeError STORE_CLOSED after close.
   */
  async replicate(pattern: string): Promise<void> {
    checkPattern(pattern)
    if (this.#closing !== null) throw new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed')
    this.#replicator.replicate(pattern)
  }

  /**
   * Resolves once, for at least one connected relay, the local store holds every document matching
   * the replicated patterns (and the token's grants) in at least the state that relay held when
   * this was called (docs/PROTOCOL.md section 7.1).
   * @throws RhizomeError TIMEOUT after `timeout` ms; RELAY_UNAVAILABLE without relays or once every
   *   relay refused the session; STORE_CLOSED when the replica closes first.
   */
  whenReplicated(options: ReplicatedOptions = {}): Promise<void> {
    if (this.#closing !== null) {
      return Promise.reject(new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed'))
    }
    return this.#replicator.whenReplicated(options.timeout)
  }

  /**
   * Sorted names of the documents held in the local store, those starting with `prefix` when given.
   * Documents deleted on the relays are left out (docs/PROTOCOL.md section 7.1), also while their
   * local records are still being removed.
   * @throws RhizomeError STORE_CLOSED after close.
   */
  async names(prefix?: string): Promise<string[]> {
    const names: string[] = []
    const local = this.#replicator.local
    for await (const entry of this.store.catalog(prefix === undefined ? {} : { prefix }))
      if (!local.isDeleted(entry.name)) names.push(entry.name)
    return names
  }

  /**
   * Closes the session with every relay and stops reconnecting, without closing the replica: open
   * handles stay usable, edits keep going into the local store, and each relay reports state
   * `offline` with `disconnected: true` until {@link Replica.connect}. Resolves once the sockets closed (about a second
   * at most). Like `provider.disconnect()` of y-websocket and Hocuspocus.
   * @throws RhizomeError STORE_CLOSED after {@link Replica.close}.
   */
  async disconnect(): Promise<void> {
    if (this.#closing !== null) throw new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed')
    await this.#replicator.disconnect()
  }

  /**
   * Reconnects every relay after {@link Replica.disconnect} (at once, with a fresh backoff); open
   * documents sync again and what was edited meanwhile is pushed. A relay that had `refused` the
   * session gets one more attempt. Connected relays are left alone.
   * @throws RhizomeError STORE_CLOSED after {@link Replica.close}.
   */
  connect(): void {
    if (this.#closing !== null) throw new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed')
    this.#replicator.connect()
  }

  /**
   * Closes every handle and relay session (sockets, timers), flushes the local store and closes it
   * with its database. Nothing keeps a Node process alive afterwards. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#doClose()
    return this.#closing
  }

  async #doClose(): Promise<void> {
    const handles = await Promise.allSettled(this.#handles.values())
    await Promise.all(handles.map((h) => (h.status === 'fulfilled' ? h.value.close() : undefined)))
    this.#handles.clear()
    await this.#replicator.close()
    await this.#replicator.local.whenIssued()
    // DocStore.close() drains the group commit (flush) before closing the database, and is idempotent.
    await this.store.close()
  }
}

/**
 * Opens a device replica: the local store at `storage` and one session with each relay. Documents
 * are opened with {@link Replica.open}; whole namespaces replicated with `replicate`. See
 * docs/PROTOCOL.md sections 7 and 7.1.
 * @throws TypeError when `relays` is not an array of ws:// or wss:// URLs, a pattern is invalid,
 *   or `token` is neither a string nor a function.
 */
export async function openReplica(options: ReplicaOptions): Promise<Replica> {
  if (!Array.isArray(options.relays)) throw new TypeError('openReplica: relays must be an array of URLs')
  for (const url of options.relays) {
    if (typeof url !== 'string' || !/^wss?:\/\/[^/]+\/?$/.test(url)) {
      throw new TypeError(
        `openReplica: relay URL must be ws://host:port or wss://host:port, got ${String(url)}`,
      )
    }
  }
  if (options.replicate !== undefined && !Array.isArray(options.replicate)) {
    throw new TypeError('openReplica: replicate must be an array of patterns')
  }
  for (const p of options.replicate ?? []) checkPattern(p)
  tokenSource(options.token)
  const WebSocket = options.WebSocket ?? (await defaultWebSocket())
  let ownedDb: AnyLevel | null = null
  let db: AnyLevel
  if (typeof options.storage === 'string') {
    ownedDb = new Level(options.storage) as unknown as AnyLevel
    db = ownedDb
  } else if (options.storage !== null && typeof options.storage === 'object') {
    db = options.storage
  } else {
    throw new TypeError('openReplica: storage must be a path, a database name or an abstract-level database')
  }
  try {
    // History and its restore points are kept by the relays; a device keeps only current state.
    const store = await DocStore.open(db, { historyMs: 0 })
    let tombstones: Tombstones
    try {
      tombstones = await Tombstones.load(store)
    } catch (err) {
      await store.close().catch(() => {})
      throw err
    }
    return new Replica(store, WebSocket, options, tombstones)
  } catch (err) {
    if (ownedDb !== null) await ownedDb.close().catch(() => {})
    throw err
  }
}
