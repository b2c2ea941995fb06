import { type BackoffOptions, docNameProblem, ErrorCode, RhizomeError } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { Level } from 'level'
import * as Y from 'yjs'
import { DocHandle } from './DocHandle.js'
import type { WebSocketClass } from './RelayConnection.js'

/** Any abstract-level database, as the store accepts it. */
type AnyLevel = Parameters<typeof DocStore.open>[0]

/** Options of {@link openReplica}. */
export interface ReplicaOptions {
  /** Relay base URLs (`ws://host:port`); the replica connects to every one of them at once. May be empty. */
  relays: readonly string[]
  /**
   * The local replica: in Node a LevelDB directory, in browsers an IndexedDB database name (both
   * through `level`), or any abstract-level database (opened if needed; `replica.close()` closes it).
   */
  storage: string | AnyLevel
  /** JWT sent to every relay as `?token=`. */
  token?: string
  /** WebSocket implementation; default: the global one, else `ws` in Node. */
  WebSocket?: WebSocketClass
  /** Reconnect schedule per relay (capped exponential backoff with full jitter). */
  backoff?: BackoffOptions
}

/** Loads updates from the local store; a Y.Doc update with this origin came from disk. */
const LOCAL_STORE_ORIGIN = Symbol('rhizome-local-store')

async function defaultWebSocket(): Promise<WebSocketClass> {
  const global = (globalThis as { WebSocket?: WebSocketClass }).WebSocket
  if (global !== undefined) return global
  // Node 20 has no global WebSocket. Browsers never get here, so bundlers may stub `ws`.
  const ws = await import('ws')
  return ws.WebSocket as unknown as WebSocketClass
}

/**
 * A device's replica: a local store holding every document it opened, plus connections to relays.
 * Create it with {@link openReplica}.
 */
export class Replica {
  /** The relay URLs every document connects to. */
  readonly relays: readonly string[]
  /** The local store. */
  readonly store: DocStore
  private readonly options: ReplicaOptions
  private readonly WebSocket: WebSocketClass
  private readonly handles = new Map<string, Promise<DocHandle>>()
  private closing: Promise<void> | null = null

  /** @internal Use {@link openReplica}. */
  constructor(store: DocStore, WebSocket: WebSocketClass, options: ReplicaOptions) {
    this.store = store
    this.WebSocket = WebSocket
    this.options = options
    this.relays = [...options.relays]
  }

  /**
   * Opens a document: loads the local replica into a new Y.Doc before it resolves (so it works
   * offline from the first frame), then connects to every relay. Opening a name that is already
   * open returns the same handle.
   * @throws RhizomeError DOC_NAME_INVALID for a name outside docs/PROTOCOL.md section 2;
   *   STORE_CLOSED after {@link Replica.close}; the store's error if loading fails.
   */
  open(name: string): Promise<DocHandle> {
    if (this.closing !== null) {
      return Promise.reject(new RhizomeError(ErrorCode.STORE_CLOSED, 'replica was closed'))
    }
    const problem = docNameProblem(name)
    if (problem !== null) {
      return Promise.reject(new RhizomeError(ErrorCode.DOC_NAME_INVALID, `invalid document name: ${problem}`))
    }
    let handle = this.handles.get(name)
    if (handle === undefined) {
      handle = this.load(name)
      this.handles.set(name, handle)
      handle.catch(() => this.handles.delete(name))
    }
    return handle
  }

  private async load(name: string): Promise<DocHandle> {
    const doc = new Y.Doc()
    const loaded = await this.store.loadInto(name, doc, LOCAL_STORE_ORIGIN)
    return new DocHandle({
      name,
      doc,
      store: this.store,
      loaded,
      relays: this.relays,
      token: this.options.token,
      WebSocket: this.WebSocket,
      backoff: this.options.backoff,
      onClose: (h) => {
        if (this.closing === null) this.handles.delete(h.name)
      },
    })
  }

  /** Names of the documents open right now. */
  get openDocuments(): string[] {
    return [...this.handles.keys()]
  }

  /**
   * Closes every handle (sockets, timers), flushes the local store and closes it with its
   * database. Nothing keeps a Node process alive afterwards. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    const handles = await Promise.allSettled(this.handles.values())
    await Promise.all(handles.map((h) => (h.status === 'fulfilled' ? h.value.close() : undefined)))
    this.handles.clear()
    // DocStore.close() drains the group commit (flush) before closing the database, and is idempotent.
    await this.store.close()
  }
}

/**
 * Opens a device replica: the local store at `storage` and the list of relays. Documents are
 * opened with {@link Replica.open}. See docs/PROTOCOL.md section 7.
 * @throws TypeError when `relays` is not an array of ws:// or wss:// URLs.
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
    const store = await DocStore.open(db)
    return new Replica(store, WebSocket, options)
  } catch (err) {
    if (ownedDb !== null) await ownedDb.close().catch(() => {})
    throw err
  }
}
