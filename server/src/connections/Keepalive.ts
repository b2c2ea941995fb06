import type { WebSocket } from 'ws'

/** How often every socket is pinged; one that has not answered the previous ping is cut. */
const PING_INTERVAL_MS = 30_000
/**
 * A socket to which the relay sent no message for this long gets its idle frame
 * (docs/PROTOCOL.md section 2): a stock `WebsocketProvider` drops a socket silent for 30 s.
 */
export const IDLE_FRAME_AFTER_MS = 15_000
/** How often sockets are checked for idleness: the idle frame goes out 15-17.5 s after the last message. */
const IDLE_CHECK_MS = 2_500

/**
 * Keeps client sockets alive and finds dead ones. Every interval each socket gets a WebSocket
 * ping, and a socket that did not answer the previous one (a peer gone without a FIN) is
 * terminated. Pings are invisible to browser code, so a socket to which the relay has sent no
 * message for 15 s also gets a harmless message of its protocol (its idle frame).
 */
export class Keepalive {
  readonly #answered = new WeakSet<WebSocket>()
  readonly #lastSent = new WeakMap<WebSocket, number>()
  readonly #idleFrames = new WeakMap<WebSocket, Uint8Array>()
  #timer: ReturnType<typeof setInterval> | null = null
  #idleTimer: ReturnType<typeof setInterval> | null = null

  constructor(private readonly sockets: () => Iterable<WebSocket>) {}

  /** Starts watching `ws`; it counts as alive until its first unanswered ping. */
  watch(ws: WebSocket): void {
    this.#answered.add(ws)
    ws.on('pong', () => this.#answered.add(ws))
    // Every message counts, whichever part of the relay sends it.
    this.#lastSent.set(ws, performance.now())
    const send = ws.send.bind(ws) as (...args: unknown[]) => void
    ws.send = ((...args: unknown[]) => {
      this.#lastSent.set(ws, performance.now())
      send(...args)
    }) as typeof ws.send
  }

  /** Sends `frame` on `ws` whenever the relay has sent it nothing for {@link IDLE_FRAME_AFTER_MS}. */
  sendWhenIdle(ws: WebSocket, frame: Uint8Array): void {
    this.#idleFrames.set(ws, frame)
  }

  start(): void {
    this.#timer = setInterval(() => this.#round(), PING_INTERVAL_MS)
    this.#timer.unref()
    this.#idleTimer = setInterval(() => this.#idleRound(), IDLE_CHECK_MS)
    this.#idleTimer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    if (this.#idleTimer) clearInterval(this.#idleTimer)
    this.#timer = null
    this.#idleTimer = null
  }

  #round(): void {
    for (const ws of this.sockets()) {
      if (!this.#answered.has(ws)) {
        ws.terminate()
        continue
      }
      this.#answered.delete(ws)
      ws.ping()
    }
  }

  #idleRound(): void {
    const now = performance.now()
    for (const ws of this.sockets()) {
      const frame = this.#idleFrames.get(ws)
      if (!frame || ws.readyState !== ws.OPEN) continue
      if (now - (this.#lastSent.get(ws) ?? 0) >= IDLE_FRAME_AFTER_MS) ws.send(frame)
    }
  }
}
