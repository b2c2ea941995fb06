import {
  type Backoff,
  type BackoffOptions,
  CloseCode,
  createBackoff,
  decodeSessionMessage,
  ErrorCode,
  encodeSessionMessage,
  isPermanentClose,
  RhizomeError,
  SESSION_PROTOCOL_VERSION,
  type SessionCheckpoint,
  type SessionMessage,
} from '@rhizome/protocol'
import { closeError } from './closeError.js'
import { authDenial, frameBytes } from './frameBytes.js'
import type { TokenSource } from './tokenSource.js'

/** The WebSocket constructor the client uses: the browser's, `ws` in Node, or one passed in. */
export type WebSocketClass = new (url: string | URL, protocols?: string | string[]) => WebSocket

/**
 * Where the session with one relay URL stands:
 * - `connecting`: a socket is being opened;
 * - `syncing`: the relay welcomed the session; its listing (round) is being worked through;
 * - `synced`: every round is complete; live updates flow;
 * - `offline`: no socket; a retry is scheduled (capped exponential backoff with full jitter);
 * - `refused`: the relay closed with 4400-4499 (a 4401 only once a fresh token was refused too); no retry;
 * - `duplicate`: this URL reaches a relay (same relay id) another URL of the replica is already
 *   connected to; the session was closed and is retried only if that other session goes down.
 * After `replica.disconnect()` the state is `offline` with `disconnected: true` in the status (no
 * retry until `replica.connect()`): a flag, not one more state, so that apps mapping every state
 * (`Record<SessionState, ...>`) keep compiling.
 */
export type SessionState = 'connecting' | 'syncing' | 'synced' | 'offline' | 'refused' | 'duplicate'

/** One relay in `replica.status` (docs/PROTOCOL.md section 7.1). */
export interface RelaySessionStatus {
  /** The relay's base URL as given to `openReplica`. */
  url: string
  /** The relay id from its `welcome`; `null` until one arrived. */
  id: string | null
  state: SessionState
  /** The last failure (close code, network error, token function); cleared once synced again. */
  error?: RhizomeError
  /** The close code of the last socket the relay closed, when it gave one. */
  closeCode?: number
  /** `true` while the app keeps the replica disconnected (`replica.disconnect()`); absent otherwise. */
  disconnected?: boolean
}

/** The `welcome` of a relay. */
export interface SessionWelcome {
  relayId: string
  storeId: string
  seq: number
  resumed: boolean
}

/** What a {@link RelaySession} asks of the replica it serves. */
export interface SessionHost {
  /** The checkpoint and patterns of the next `hello`. */
  hello(session: RelaySession): Promise<{ checkpoint: SessionCheckpoint | null; patterns: string[] }>
  /** The relay welcomed the session; false closes it as a `duplicate` of another URL of that relay. */
  onWelcome(session: RelaySession, welcome: SessionWelcome): boolean
  /** Any message after the welcome except keepalives. */
  onMessage(session: RelaySession, message: SessionMessage): void
  /** The welcomed socket is gone (closed, dead, or closed by us). */
  onDown(session: RelaySession): void
  /** Anything in {@link RelaySession.status} changed. */
  onStatus(session: RelaySession): void
}

/** Options of a {@link RelaySession}. */
export interface RelaySessionOptions {
  url: string
  WebSocket: WebSocketClass
  token: TokenSource
  backoff?: BackoffOptions
  /** A socket that received nothing for this long is dead (docs/PROTOCOL.md section 2). Default 30 000. */
  deadAfterMs?: number
  host: SessionHost
}

/** docs/PROTOCOL.md section 2: relays send something at least every 15 s; 30 s of silence is a dead socket. */
const DEFAULT_DEAD_AFTER_MS = 30_000
/** How long `close()` waits for the closing handshake before it terminates the socket. */
const CLOSE_WAIT_MS = 1000

/**
 * The one WebSocket a replica holds to one relay URL (`/_session`, docs/PROTOCOL.md section 7.2):
 * its lifecycle (token, `hello`/`welcome`, keepalive watchdog, reconnect with capped exponential
 * backoff and full jitter) for every document the replica carries. A relay restart costs one
 * reconnect of this session, whatever the number of documents. What the messages mean is the
 * host's business.
 */
export class RelaySession {
  /** The relay's base URL, as given (the session endpoint `/_session` is appended to it). */
  readonly url: string
  readonly #options: RelaySessionOptions
  readonly #host: SessionHost
  readonly #backoff: Backoff
  readonly #deadAfterMs: number
  #state: SessionState = 'offline'
  #id: string | null = null
  #welcome: SessionWelcome | null = null
  #error: RhizomeError | undefined
  #closeCode: number | undefined
  #ws: WebSocket | null = null
  #retryTimer: ReturnType<typeof setTimeout> | null = null
  #watchdog: ReturnType<typeof setInterval> | null = null
  #lastReceived = 0
  /** True after a 4401 made us fetch a fresh token; a second 4401 before a welcome is final. */
  #refreshedAfter401 = false
  #closed = false
  /** Set by {@link disconnect}: no socket is opened until {@link connect}. */
  #paused = false
  /** Incremented by {@link disconnect}: a connection attempt of an earlier generation gives up. */
  #generation = 0
  /** Sockets not fully closed yet, each with a promise of its close event (see {@link close}). */
  readonly #live = new Map<WebSocket, Promise<void>>()

  /** Creates the session, idle: {@link start} opens the first socket. Never throws. */
  constructor(options: RelaySessionOptions) {
    this.#options = options
    this.#host = options.host
    this.url = options.url
    this.#backoff = createBackoff(options.backoff)
    this.#deadAfterMs = options.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS
  }

  /** The state, see {@link SessionState}. */
  get state(): SessionState {
    return this.#state
  }

  /** The relay id of the last welcome (kept while offline), or `null`. */
  get relayId(): string | null {
    return this.#id
  }

  /** The welcome of the current socket; `null` while not welcomed. */
  get welcome(): SessionWelcome | null {
    return this.#welcome
  }

  /** True while a welcomed socket is open (`syncing` or `synced`): messages can be sent. */
  get ready(): boolean {
    return this.#welcome !== null && (this.#state === 'syncing' || this.#state === 'synced')
  }

  /** Bytes queued on the socket and not sent yet (0 without a socket). */
  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0
  }

  /** The status entry of this relay. */
  get status(): RelaySessionStatus {
    const s: RelaySessionStatus = { url: this.url, id: this.#id, state: this.#state }
    if (this.#error !== undefined) s.error = this.#error
    if (this.#closeCode !== undefined) s.closeCode = this.#closeCode
    if (this.#paused) s.disconnected = true
    return s
  }

  /** Opens the first socket (or, for a `duplicate`, tries again). No-op while connected or after close. */
  start(): void {
    if (this.#closed || this.#paused || this.#ws !== null || this.#retryTimer !== null) return
    if (this.#state === 'refused') return
    void this.#connect()
  }

  /** Marks every round complete (`synced`): the backoff starts over and the last error is cleared. */
  markSynced(): void {
    if (!this.ready || this.#state === 'synced') return
    this.#backoff.reset()
    this.#error = undefined
    this.#setState('synced')
  }

  /** Back to `syncing` (a new round started). */
  markSyncing(): void {
    if (this.ready) this.#setState('syncing')
  }

  /** Sends a message on the welcomed socket; false (nothing sent) when there is none. */
  send(message: SessionMessage): boolean {
    const ws = this.#ws
    if (!this.ready || ws === null || ws.readyState !== 1) return false
    ws.send(encodeSessionMessage(message))
    return true
  }

  /**
   * Closes for good: no retry; resolves once the socket closed (after at most about a second, a
   * relay that never answers the closing handshake is cut off). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    const ws = this.#ws
    if (ws !== null) {
      this.#drop(ws)
      try {
        ws.close(1000, 'replica closed')
      } catch {
        // already closing
      }
    }
    this.#setState('offline')
    await this.#whenSocketsClosed()
  }

  /**
   * Waits for the closing handshake of the sockets open now for about a second, then cuts off the
   * rest. Only those: a socket a later {@link connect} opens meanwhile is left alone.
   */
  async #whenSocketsClosed(): Promise<void> {
    const closing = [...this.#live]
    if (closing.length > 0) {
      let deadline: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        Promise.all(closing.map(([, closed]) => closed)),
        new Promise<void>((resolve) => {
          deadline = setTimeout(resolve, CLOSE_WAIT_MS)
        }),
      ])
      clearTimeout(deadline)
    }
    for (const [socket] of closing) {
      ;(socket as unknown as { terminate?: () => void }).terminate?.()
      this.#live.delete(socket)
    }
  }

  /**
   * Closes the socket (if any) and stops retrying until {@link connect}: state `offline`, status
   * `disconnected: true`.
   * Resolves once the socket closed (about a second at most, as {@link close}). No-op after close.
   */
  async disconnect(): Promise<void> {
    if (this.#closed) return
    this.#paused = true
    this.#generation++
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    const ws = this.#ws
    if (ws !== null) {
      this.#drop(ws)
      try {
        ws.close(1000, 'disconnected by the app')
      } catch {
        // already closing
      }
    }
    if (this.#state === 'offline') this.#host.onStatus(this)
    else this.#setState('offline')
    await this.#whenSocketsClosed()
  }

  /**
   * Undoes {@link disconnect}: connects now, with a fresh backoff. Also gives a `refused` session
   * one more attempt (the app asked for it, for example after changing what its token function
   * returns). No-op while connected or after close.
   */
  connect(): void {
    if (this.#closed) return
    if (!this.#paused && this.#state !== 'refused') return
    this.#paused = false
    this.#refreshedAfter401 = false
    this.#backoff.reset()
    if (this.#state === 'refused') this.#state = 'offline'
    this.start()
  }

  async #connect(): Promise<void> {
    const generation = this.#generation
    this.#setState('connecting')
    let url: string
    let hello: { checkpoint: SessionCheckpoint | null; patterns: string[] }
    try {
      const token = await this.#options.token.get()
      hello = await this.#host.hello(this)
      const base = this.url.replace(/\/+$/, '')
      url = `${base}/_session${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`
    } catch (err) {
      if (this.#closed || generation !== this.#generation) return
      this.#error =
        err instanceof RhizomeError
          ? err
          : new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'preparing the session failed', { cause: err })
      this.#retry()
      return
    }
    if (this.#closed || generation !== this.#generation) return
    let ws: WebSocket
    try {
      ws = new this.#options.WebSocket(url)
    } catch (cause) {
      this.#error = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `cannot open ${this.url}`, { cause })
      this.#retry()
      return
    }
    ws.binaryType = 'arraybuffer'
    this.#ws = ws
    this.#live.set(
      ws,
      new Promise<void>((resolve) => {
        ws.addEventListener('close', () => {
          this.#live.delete(ws)
          resolve()
        })
      }),
    )
    ws.addEventListener('open', () => {
      if (ws !== this.#ws) return
      this.#lastReceived = Date.now()
      this.#startWatchdog()
      // The first frame, always: a relay closes a session whose first frame is anything else.
      ws.send(
        encodeSessionMessage({
          type: 'hello',
          version: SESSION_PROTOCOL_VERSION,
          checkpoint: hello.checkpoint,
          patterns: hello.patterns,
        }),
      )
    })
    ws.addEventListener('message', (event) => this.#socketOnMessage(ws, event.data))
    ws.addEventListener('error', (event) => {
      if (ws !== this.#ws) return
      const message = (event as { message?: string }).message ?? 'connection error'
      this.#error = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `cannot reach ${this.url}: ${message}`)
    })
    ws.addEventListener('close', (event) => {
      if (ws === this.#ws) this.#socketOnClose(event.code, event.reason)
    })
  }

  #socketOnMessage(ws: WebSocket, data: unknown): void {
    if (ws !== this.#ws) return
    this.#lastReceived = Date.now()
    const bytes = frameBytes(data)
    let message: SessionMessage
    try {
      if (bytes === null) throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'text frame on a session')
      message = decodeSessionMessage(bytes)
    } catch (err) {
      const denied = this.#welcome === null && bytes !== null ? authDenial(bytes) : null
      if (denied !== null) {
        // A refused token: the relay sends one AUTH frame (docs/PROTOCOL.md section 7.2), then closes with 4401.
        this.#error = new RhizomeError(ErrorCode.AUTH_INVALID, `relay refused the token: ${denied}`)
        return
      }
      this.#error = err instanceof RhizomeError ? err : closeError(CloseCode.MALFORMED, 'undecodable frame')
      this.#abort(ws, CloseCode.MALFORMED, 'malformed frame from the relay')
      return
    }
    if (message.type === 'keepalive') return
    if (this.#welcome === null) {
      if (message.type !== 'welcome' || message.version !== SESSION_PROTOCOL_VERSION) {
        this.#error = new RhizomeError(
          ErrorCode.PROTOCOL_MALFORMED,
          `expected welcome v${SESSION_PROTOCOL_VERSION}, got ${message.type}`,
        )
        this.#abort(ws, CloseCode.MALFORMED, 'expected welcome')
        return
      }
      const welcome: SessionWelcome = {
        relayId: message.relayId,
        storeId: message.storeId,
        seq: message.seq,
        resumed: message.resumed,
      }
      this.#id = welcome.relayId
      this.#refreshedAfter401 = false
      this.#welcome = welcome
      this.#state = 'syncing'
      if (!this.#host.onWelcome(this, welcome)) {
        this.#welcome = null
        this.#drop(ws)
        ws.close(1000, 'duplicate session')
        this.#setState('duplicate')
        return
      }
      this.#host.onStatus(this)
      return
    }
    this.#host.onMessage(this, message)
  }

  #socketOnClose(code: number, reason: string): void {
    const ws = this.#ws
    if (ws !== null) this.#drop(ws)
    if (this.#closed) return
    this.#closeCode = code
    if (code === CloseCode.UNAUTHORIZED && this.#options.token.refreshable && !this.#refreshedAfter401) {
      // An expired token: ask the app for a fresh one and reconnect at once; only a second 4401 is final.
      this.#refreshedAfter401 = true
      this.#error = closeError(code, reason)
      this.#setState('offline')
      this.#retry(0)
      return
    }
    if (isPermanentClose(code)) {
      this.#error = closeError(code, reason)
      this.#setState('refused')
      return
    }
    if (code !== 1000 && code !== 1006) this.#error = closeError(code, reason)
    else if (this.#error === undefined || this.#state === 'synced') {
      this.#error = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `connection to ${this.url} lost (${code})`)
    }
    this.#retry()
  }

  /** Forgets the current socket: watchdog off, host told once if it was welcomed. */
  #drop(ws: WebSocket): void {
    if (ws !== this.#ws) return
    this.#ws = null
    if (this.#watchdog !== null) clearInterval(this.#watchdog)
    this.#watchdog = null
    if (this.#welcome !== null) {
      this.#welcome = null
      this.#host.onDown(this)
    }
  }

  /** Gives up on a socket now (a dead or misbehaving relay) and schedules the next attempt. */
  #abort(ws: WebSocket, code: number, reason: string): void {
    this.#drop(ws)
    const terminate = (ws as unknown as { terminate?: () => void }).terminate
    if (typeof terminate === 'function') terminate.call(ws)
    else {
      try {
        ws.close(code === CloseCode.MALFORMED ? 4400 : 1000, reason)
      } catch {
        // already closing
      }
    }
    if (!this.#closed) this.#retry()
  }

  #startWatchdog(): void {
    if (this.#watchdog !== null) clearInterval(this.#watchdog)
    const every = Math.max(10, Math.min(5000, Math.floor(this.#deadAfterMs / 3)))
    this.#watchdog = setInterval(() => {
      const ws = this.#ws
      if (ws === null || Date.now() - this.#lastReceived < this.#deadAfterMs) return
      this.#error = new RhizomeError(
        ErrorCode.RELAY_UNAVAILABLE,
        `nothing received from ${this.url} for ${this.#deadAfterMs} ms`,
      )
      this.#abort(ws, 1000, 'dead session')
    }, every)
  }

  #retry(delay = this.#backoff.next()): void {
    if (this.#paused) return
    this.#setState('offline')
    if (this.#closed || this.#retryTimer !== null) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      if (!this.#closed && !this.#paused && this.#ws === null) void this.#connect()
    }, delay)
  }

  #setState(state: SessionState): void {
    if (this.#state === state) return
    this.#state = state
    this.#host.onStatus(this)
  }
}
