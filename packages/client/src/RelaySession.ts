import {
  type BackoffOptions,
  CloseCode,
  corkUntilTick,
  ErrorCode,
  encodeSessionMessage,
  RhizomeError,
  type SessionMessage,
} from '@rhizome/protocol'
import { helloFrame, readWelcome, type SessionHello, type SessionWelcome, sessionUrl } from './handshake.js'
import { cutOff, LiveSockets } from './LiveSockets.js'
import { ReconnectTimer } from './ReconnectTimer.js'
import { readRelayFrame } from './relayFrame.js'
import { SessionWatchdog } from './SessionWatchdog.js'
import { closeOutcome } from './sessionClose.js'
import type { RelaySessionStatus, SessionState } from './sessionStatus.js'
import type { TokenSource } from './tokenSource.js'

export type { SessionWelcome } from './handshake.js'
export type { RelaySessionStatus, SessionState } from './sessionStatus.js'

/** The WebSocket constructor the client uses: the browser's, `ws` in Node, or one passed in. */
export type WebSocketClass = new (url: string | URL, protocols?: string | string[]) => WebSocket

/** What a {@link RelaySession} asks of the replica it serves. */
export interface SessionHost {
  /** The checkpoint and patterns of the next `hello`. */
  hello(session: RelaySession): Promise<SessionHello>
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
  readonly #reconnect: ReconnectTimer
  readonly #watchdog: SessionWatchdog
  #state: SessionState = 'offline'
  #id: string | null = null
  #welcome: SessionWelcome | null = null
  #error: RhizomeError | undefined
  #closeCode: number | undefined
  #ws: WebSocket | null = null
  /** True after a 4401 made us fetch a fresh token; a second 4401 before a welcome is final. */
  #refreshedAfter401 = false
  #closed = false
  /** Set by {@link disconnect}: no socket is opened until {@link connect}. */
  #paused = false
  /** Incremented by {@link disconnect}: a connection attempt of an earlier generation gives up. */
  #generation = 0
  /** Sockets not fully closed yet, each with a promise of its close event (see {@link close}). */
  readonly #live = new LiveSockets()

  /** Creates the session, idle: {@link start} opens the first socket. Never throws. */
  constructor(options: RelaySessionOptions) {
    this.#options = options
    this.#host = options.host
    this.url = options.url
    this.#reconnect = new ReconnectTimer(options.backoff)
    this.#watchdog = new SessionWatchdog(options.deadAfterMs)
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
    if (this.#closed || this.#paused || this.#ws !== null || this.#reconnect.pending) return
    if (this.#state === 'refused') return
    void this.#connect()
  }

  /** Marks every round complete (`synced`): the backoff starts over and the last error is cleared. */
  markSynced(): void {
    if (!this.ready || this.#state === 'synced') return
    this.#reconnect.reset()
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
    corkUntilTick(ws)
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
    this.#reconnect.cancel()
    this.#closeSocket('replica closed')
    this.#setState('offline')
    // Only the sockets open now: one a later connect() opens meanwhile is left alone.
    await this.#live.whenClosed(CLOSE_WAIT_MS)
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
    this.#reconnect.cancel()
    this.#closeSocket('disconnected by the app')
    if (this.#state === 'offline') this.#host.onStatus(this)
    else this.#setState('offline')
    await this.#live.whenClosed(CLOSE_WAIT_MS)
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
    this.#reconnect.reset()
    if (this.#state === 'refused') this.#state = 'offline'
    this.start()
  }

  async #connect(): Promise<void> {
    const generation = this.#generation
    this.#setState('connecting')
    let url: string
    let hello: SessionHello
    try {
      const token = await this.#options.token.get()
      hello = await this.#host.hello(this)
      url = sessionUrl(this.url, token)
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
    this.#live.add(ws)
    ws.addEventListener('open', () => {
      if (ws !== this.#ws) return
      this.#watchdog.start(() => this.#watchdogOnDead())
      // The first frame, always: a relay closes a session whose first frame is anything else.
      ws.send(helloFrame(hello))
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
    this.#watchdog.touch()
    const frame = readRelayFrame(data, this.#welcome !== null)
    if (frame.kind !== 'message') {
      this.#error = frame.error
      // A `denied` frame is followed by the relay's 4401 close, which decides what comes next.
      if (frame.kind === 'malformed') this.#abort(ws, CloseCode.MALFORMED, 'malformed frame from the relay')
      return
    }
    const { message } = frame
    if (message.type === 'keepalive') return
    if (this.#welcome === null) {
      const welcome = readWelcome(message)
      if (welcome instanceof RhizomeError) {
        this.#error = welcome
        this.#abort(ws, CloseCode.MALFORMED, 'expected welcome')
        return
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

  /** Closes the current socket (if any) with 1000 after forgetting it. */
  #closeSocket(reason: string): void {
    const ws = this.#ws
    if (ws === null) return
    this.#drop(ws)
    try {
      ws.close(1000, reason)
    } catch {
      // already closing
    }
  }

  #socketOnClose(code: number, reason: string): void {
    const ws = this.#ws
    if (ws !== null) this.#drop(ws)
    if (this.#closed) return
    this.#closeCode = code
    const refreshable = this.#options.token.refreshable && !this.#refreshedAfter401
    const context = { url: this.url, refreshable, error: this.#error, synced: this.#state === 'synced' }
    const outcome = closeOutcome(code, reason, context)
    this.#error = outcome.error
    if (outcome.next === 'refuse') this.#setState('refused')
    else if (outcome.next === 'refresh') {
      // An expired token: ask the app for a fresh one and reconnect at once.
      this.#refreshedAfter401 = true
      this.#setState('offline')
      this.#retry(0)
    } else this.#retry()
  }

  /** Forgets the current socket: watchdog off, host told once if it was welcomed. */
  #drop(ws: WebSocket): void {
    if (ws !== this.#ws) return
    this.#ws = null
    this.#watchdog.stop()
    if (this.#welcome !== null) {
      this.#welcome = null
      this.#host.onDown(this)
    }
  }

  /** Gives up on a socket now (a dead or misbehaving relay) and schedules the next attempt. */
  #abort(ws: WebSocket, code: number, reason: string): void {
    this.#drop(ws)
    cutOff(ws, code === CloseCode.MALFORMED ? 4400 : 1000, reason)
    if (!this.#closed) this.#retry()
  }

  /** Nothing arrived for too long: the socket is dead. */
  #watchdogOnDead(): void {
    const ws = this.#ws
    if (ws === null) return
    const why = `nothing received from ${this.url} for ${this.#watchdog.deadAfterMs} ms`
    this.#error = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, why)
    this.#abort(ws, 1000, 'dead session')
  }

  #retry(delay = this.#reconnect.nextDelay()): void {
    if (this.#paused) return
    this.#setState('offline')
    if (this.#closed) return
    this.#reconnect.schedule(delay, () => {
      if (!this.#closed && !this.#paused && this.#ws === null) void this.#connect()
    })
  }

  #setState(state: SessionState): void {
    if (this.#state === state) return
    this.#state = state
    this.#host.onStatus(this)
  }
}
