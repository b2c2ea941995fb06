import { type Backoff, type BackoffOptions, createBackoff } from '@rhizome/protocol'

/**
 * The reconnect schedule of one session: capped exponential backoff with full jitter (the
 * protocol package's {@link Backoff}) and at most one pending attempt.
 */
export class ReconnectTimer {
  readonly #backoff: Backoff
  #timer: ReturnType<typeof setTimeout> | null = null

  /** An idle schedule; `options` as `openReplica({ backoff })`. */
  constructor(options?: BackoffOptions) {
    this.#backoff = createBackoff(options)
  }

  /** True while an attempt is scheduled. */
  get pending(): boolean {
    return this.#timer !== null
  }

  /** The delay of the next attempt (each call grows the backoff). */
  nextDelay(): number {
    return this.#backoff.next()
  }

  /** The backoff starts over (after a success, or when the app asks to connect). */
  reset(): void {
    this.#backoff.reset()
  }

  /** Calls `attempt` after `delay` ms, unless an attempt is scheduled already. */
  schedule(delay: number, attempt: () => void): void {
    if (this.#timer !== null) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      attempt()
    }, delay)
  }

  /** Drops the scheduled attempt, if any. Idempotent. */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }
}
