import type { WebSocket } from 'ws'

/** How often every socket is pinged; one that has not answered the previous ping is cut. */
const PING_INTERVAL_MS = 30_000

/**
 * Finds dead client sockets: every interval each socket gets a WebSocket ping, and a socket that
 * did not answer the previous one (a peer gone without a FIN) is terminated.
 */
export class Keepalive {
  readonly #answered = new WeakSet<WebSocket>()
  #timer: ReturnType<typeof setInterval> | null = null

  constructor(private readonly sockets: () => Iterable<WebSocket>) {}

  /** Starts watching `ws`; it counts as alive until its first unanswered ping. */
  watch(ws: WebSocket): void {
    this.#answered.add(ws)
    ws.on('pong', () => this.#answered.add(ws))
  }

  start(): void {
    this.#timer = setInterval(() => this.#round(), PING_INTERVAL_MS)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
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
}
