/** docs/PROTOCOL.md section 2: relays send something at least every 15 s; 30 s of silence is a dead socket. */
export const DEFAULT_DEAD_AFTER_MS = 30_000

/**
 * The keepalive watchdog of one socket (docs/PROTOCOL.md section 2): a socket that received
 * nothing for `deadAfterMs` is dead. Checked a few times per period, at most every 5 s.
 */
export class SessionWatchdog {
  readonly #deadAfterMs: number
  #timer: ReturnType<typeof setInterval> | null = null
  #lastReceived = 0

  /** An idle watchdog; {@link start} arms it. */
  constructor(deadAfterMs = DEFAULT_DEAD_AFTER_MS) {
    this.#deadAfterMs = deadAfterMs
  }

  /** The silence after which a socket is dead, in ms. */
  get deadAfterMs(): number {
    return this.#deadAfterMs
  }

  /** Something arrived: the silence starts over. */
  touch(): void {
    this.#lastReceived = Date.now()
  }

  /** Starts over (as {@link touch}) and calls `onDead` at every check that finds the socket silent too long. */
  start(onDead: () => void): void {
    this.stop()
    this.touch()
    const every = Math.max(10, Math.min(5000, Math.floor(this.#deadAfterMs / 3)))
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastReceived >= this.#deadAfterMs) onDead()
    }, every)
  }

  /** Disarms the watchdog. Idempotent. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}
