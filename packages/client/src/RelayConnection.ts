import {
  type Backoff,
  type BackoffOptions,
  CloseCode,
  createBackoff,
  decodeAwarenessEntries,
  decodeMessage,
  EMPTY_UPDATE,
  ErrorCode,
  encodeDocName,
  encodeSyncUpdate,
  isPermanentClose,
  type Message,
  MessageType,
  RhizomeError,
} from '@rhizome/protocol'
import type * as decoding from 'lib0/decoding'
import type { Awareness } from 'y-protocols/awareness'
import { WebsocketProvider } from 'y-websocket'
import type * as Y from 'yjs'
import { DurabilityTracker } from './DurabilityTracker.js'

/**
 * Where one relay connection of a document stands:
 * - `connecting`: a socket is being opened;
 * - `syncing`: the socket is open, the relay's state has not arrived yet;
 * - `synced`: both sides exchanged their state; live updates flow;
 * - `offline`: no socket; a retry is scheduled (backoff with full jitter);
 * - `refused`: the relay closed with 4400-4499 (e.g. 4401 bad token, 4403 not granted); no retry.
 */
export type RelayState = 'connecting' | 'syncing' | 'synced' | 'offline' | 'refused'

/** One relay in a {@link DocStatus}. */
export interface RelayStatus {
  /** The relay's base URL as given to `openReplica`. */
  url: string
  state: RelayState
  /** Relay stores this relay says durably hold the whole local state (0: not known to hold it). */
  copies: number
  /** The last failure on this relay (close code, network error, auth denial); cleared once synced again. */
  error?: RhizomeError
  /** The close code of the last socket the relay closed, when it gave one. */
  closeCode?: number
}

/** The WebSocket constructor the client uses: the browser's, `ws` in Node, or one passed in. */
export type WebSocketClass = new (url: string | URL, protocols?: string | string[]) => WebSocket

/** Everything a {@link RelayConnection} needs from its document handle. */
export interface RelayConnectionContext {
  url: string
  docName: string
  doc: Y.Doc
  awareness: Awareness
  token?: string
  WebSocket: WebSocketClass
  backoff?: BackoffOptions
  /** The local version right now (see DurabilityTracker). */
  version(): number
  /** Called after anything in {@link RelayConnection.status} may have changed. */
  onChange(): void
  /** Called when the socket closed, after the tracker was reset. */
  onSocketClose(connection: RelayConnection): void
}

/**
 * Stands in for the shared Awareness while y-websocket tears down a socket. y-websocket removes
 * every remote client from `provider.awareness` when a socket closes; with one Awareness shared by
 * several relays that would drop clients still present through the others. The handle removes
 * exactly those seen only through the closed relay instead (see DocHandle).
 */
const NO_REMOTE_STATES = { getStates: () => new Map(), off() {} } as unknown as Awareness

function closeError(code: number, reason: string): RhizomeError {
  const detail = `relay closed the connection with ${code}${reason ? `: ${reason}` : ''}`
  switch (code) {
    case CloseCode.UNAUTHORIZED:
      return new RhizomeError(ErrorCode.AUTH_INVALID, detail)
    case CloseCode.FORBIDDEN:
      return new RhizomeError(ErrorCode.AUTH_FORBIDDEN, detail)
    case CloseCode.MALFORMED:
      return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, detail)
    case CloseCode.TOO_LARGE:
      return new RhizomeError(ErrorCode.PROTOCOL_TOO_LARGE, detail)
    case CloseCode.RATE_LIMITED:
      return new RhizomeError(ErrorCode.RATE_LIMITED, detail)
    default:
      return new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, detail)
  }
}

/**
 * Decodes a whole frame, or null when it is not a message of docs/PROTOCOL.md section 3. Frames the
 * client cannot decode are skipped by its own bookkeeping (an ACK not counted is always safe).
 */
function tryDecode(frame: Uint8Array): Message | null {
  try {
    return decodeMessage(frame)
  } catch {
    return null
  }
}

/** The frame a y-websocket message handler is reading: its decoder runs over the whole frame. */
function handlerFrame(decoder: decoding.Decoder): Message | null {
  return tryDecode(decoder.arr)
}

function frameBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return null
}

/**
 * One document's connection to one relay, built on y-websocket's `WebsocketProvider`:
 * `?rhizome=1&token=...`, no BroadcastChannel, an ACK handler (type 100), and a WebSocket
 * subclass that counts outgoing SYNC step2/update frames for the {@link DurabilityTracker}.
 * Reconnects follow this class's own backoff with full jitter, not y-websocket's schedule.
 */
export class RelayConnection {
  readonly url: string
  readonly provider: WebsocketProvider
  readonly tracker = new DurabilityTracker()
  /** Awareness clients this relay told us about on the current socket. */
  readonly seenClients = new Set<number>()
  private readonly ctx: RelayConnectionContext
  private readonly backoff: Backoff
  private state: RelayState = 'offline'
  private error: RhizomeError | undefined
  private closeCode: number | undefined
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private closed = false
  private probeQueued = false
  private socket: WebSocket | null = null
  /**
   * Sockets not fully closed yet, each with a promise of its close event; `close()` waits for them
   * so no handle keeps the process alive.
   */
  private readonly liveSockets = new Map<WebSocket, Promise<void>>()

  constructor(ctx: RelayConnectionContext) {
    this.ctx = ctx
    this.url = ctx.url
    this.backoff = createBackoff(ctx.backoff)
    const params: Record<string, string> = { rhizome: '1' }
    if (ctx.token !== undefined) params.token = ctx.token
    this.provider = new WebsocketProvider(ctx.url, encodeDocName(ctx.docName), ctx.doc, {
      connect: false,
      awareness: ctx.awareness,
      params,
      disableBc: true,
      WebSocketPolyfill: this.countingSocketClass(ctx.WebSocket) as unknown as typeof WebSocket,
      // Reconnects are ours: y-websocket's own timer becomes an immediate no-op (see providerOnClose).
      maxBackoffTime: 0,
      shouldReconnect: () => false,
    })
    // The handle broadcasts the local awareness state once for all relays; y-websocket's handler
    // would also re-send every remote client's state to every other relay.
    ctx.awareness.off(
      'update',
      (this.provider as unknown as { _awarenessUpdateHandler: () => void })._awarenessUpdateHandler,
    )
    // y-websocket adds one process 'exit' listener per provider: with many documents times relays
    // Node warns about a listener leak. close() already tells relays our presence left, and a relay
    // drops a dead socket's awareness itself.
    const exitHandler = (this.provider as unknown as { _exitHandler: () => void })._exitHandler
    if (typeof process !== 'undefined' && typeof process.off === 'function') process.off('exit', exitHandler)
    this.installHandlers()
    this.provider.on('status', ({ status }) => {
      if (status === 'connecting') this.setState('connecting')
      else if (status === 'connected') this.setState('syncing')
    })
    this.provider.on('sync', (synced) => {
      if (!synced || this.closed) return
      this.backoff.reset()
      this.error = undefined
      this.setState('synced')
    })
    this.provider.on('connection-error', (event) => {
      const message = (event as { message?: string }).message ?? 'connection error'
      this.error = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `cannot reach ${this.url}: ${message}`)
      ctx.onChange()
    })
    this.provider.on('connection-close', (event) => this.providerOnClose(event))
  }

  /** The relay's entry of the document status. */
  status(version: number): RelayStatus {
    const s: RelayStatus = { url: this.url, state: this.state, copies: this.tracker.copiesAt(version) }
    if (this.error !== undefined) s.error = this.error
    if (this.closeCode !== undefined) s.closeCode = this.closeCode
    return s
  }

  /** True while the socket is open (syncing or synced). */
  get connected(): boolean {
    return this.state === 'syncing' || this.state === 'synced'
  }

  /** The current state, see {@link RelayState}. */
  get currentState(): RelayState {
    return this.state
  }

  /** Opens the first socket. */
  start(): void {
    if (this.closed) return
    this.provider.connect()
  }

  /**
   * After an update from this relay changed the local replica, sends an empty update so that the
   * relay's ACK of it covers the new local version: the relay applied what it sent us before it
   * processes our later frame, so the ACK's "everything applied when it processed n" includes it.
   */
  queueProbe(): void {
    if (this.probeQueued) return
    this.probeQueued = true
    queueMicrotask(() => {
      this.probeQueued = false
      const ws = this.socket
      if (this.closed || ws === null || ws.readyState !== 1 || !this.tracker.hasBaseline) return
      ws.send(encodeSyncUpdate(EMPTY_UPDATE))
    })
  }

  /** Sends a ready-made awareness frame if the socket is open. */
  sendAwareness(frame: Uint8Array): void {
    const ws = this.socket
    if (!this.closed && ws !== null && ws.readyState === 1 && this.provider.wsconnected) ws.send(frame)
  }

  /**
   * Closes for good: no retry, the socket closed (y-websocket first tells the relay our awareness
   * state is gone). Resolves once the underlying sockets are closed, at most ~1 s later.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.provider.destroy()
    this.tracker.reset()
    this.state = 'offline'
    if (this.liveSockets.size > 0) {
      // A relay that never answers the closing handshake must not hold close() up: after the
      // deadline the sockets are terminated.
      let deadline: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        Promise.all(this.liveSockets.values()),
        new Promise<void>((resolve) => {
          deadline = setTimeout(resolve, 1000)
        }),
      ])
      clearTimeout(deadline)
    }
    for (const ws of this.liveSockets.keys()) (ws as unknown as { terminate?: () => void }).terminate?.()
    this.liveSockets.clear()
  }

  private setState(state: RelayState): void {
    if (this.closed || this.state === state) return
    this.state = state
    this.ctx.onChange()
  }

  private installHandlers(): void {
    const handlers = this.provider.messageHandlers
    handlers[MessageType.ACK] = (_encoder, decoder) => {
      const message = handlerFrame(decoder)
      if (message?.type === 'ack' && this.tracker.ack(message.n, message.copies)) this.ctx.onChange()
    }
    const applyAwareness = handlers[MessageType.AWARENESS]!
    handlers[MessageType.AWARENESS] = (encoder, decoder, provider, emitSynced, type) => {
      // Note which clients this relay knows about before y-websocket applies the update.
      const message = handlerFrame(decoder)
      if (message?.type === 'awareness') this.noteAwarenessClients(message.update)
      applyAwareness(encoder, decoder, provider, emitSynced, type)
    }
    handlers[MessageType.AUTH] = (_encoder, decoder) => {
      // Permission denied with its reason; the close code follows.
      const message = handlerFrame(decoder)
      if (message?.type === 'auth-denied') {
        this.error = new RhizomeError(ErrorCode.AUTH_FORBIDDEN, `relay denied access: ${message.reason}`)
        this.ctx.onChange()
      }
    }
  }

  private noteAwarenessClients(update: Uint8Array): void {
    let entries: ReturnType<typeof decodeAwarenessEntries>
    try {
      entries = decodeAwarenessEntries(update)
    } catch {
      return // y-websocket's own handler decides what a broken update does
    }
    for (const { clientID, state } of entries) {
      if (state === 'null') this.seenClients.delete(clientID)
      else this.seenClients.add(clientID)
    }
  }

  private providerOnClose(event: CloseEvent | null): void {
    this.socket = null
    this.tracker.reset()
    // Keep y-websocket from scheduling its own reconnect or dropping shared awareness states;
    // the real Awareness is back before anything else can run.
    this.provider.shouldConnect = false
    const awareness = this.ctx.awareness
    this.provider.awareness = NO_REMOTE_STATES
    queueMicrotask(() => {
      this.provider.awareness = awareness
    })
    this.ctx.onSocketClose(this)
    this.seenClients.clear()
    if (this.closed) return
    if (event !== null) {
      this.closeCode = event.code
      if (isPermanentClose(event.code)) {
        this.error = closeError(event.code, event.reason)
        this.setState('refused')
        return
      }
      if (event.code !== 1000 && event.code !== 1006) this.error = closeError(event.code, event.reason)
      else if (this.error === undefined || this.state === 'synced') {
        this.error = new RhizomeError(
          ErrorCode.RELAY_UNAVAILABLE,
          `connection to ${this.url} lost (${event.code})`,
        )
      }
    }
    this.setState('offline')
    this.ctx.onChange()
    const delay = this.backoff.next()
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (!this.closed) this.provider.connect()
    }, delay)
  }

  /** A WebSocket subclass for this connection only, so its hooks need no lookup. */
  private countingSocketClass(Base: WebSocketClass): WebSocketClass {
    const connection = this
    return class CountingWebSocket extends (Base as new (
      url: string | URL,
      protocols?: string | string[],
    ) => WebSocket) {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols)
        connection.socketOnCreate(this)
      }

      override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
        connection.socketOnSend(this, data)
        super.send(data)
      }
    }
  }

  private socketOnCreate(ws: WebSocket): void {
    this.socket = ws
    this.tracker.reset()
    this.liveSockets.set(
      ws,
      new Promise<void>((resolve) => {
        ws.addEventListener('close', () => {
          this.liveSockets.delete(ws)
          resolve()
        })
      }),
    )
  }

  private socketOnSend(ws: WebSocket, data: unknown): void {
    if (ws !== this.socket || ws.readyState !== 1) return
    const bytes = frameBytes(data)
    // Only SYNC step2 and update frames count towards ACK numbers (docs/PROTOCOL.md section 3).
    const message = bytes === null ? null : tryDecode(bytes)
    if (message?.type === 'sync-step2') this.tracker.frameSent('step2', this.ctx.version())
    else if (message?.type === 'sync-update') this.tracker.frameSent('update', this.ctx.version())
  }
}
