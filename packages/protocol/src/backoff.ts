// Capped exponential backoff with full jitter, one implementation for every reconnect loop: a
// client's connection to a relay and a relay's dial to a peer.

/** Settings of the capped exponential backoff between reconnect attempts to one relay or peer. */
export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. Default 250. */
  initialMs?: number
  /** Cap of every delay, in ms. Default 10 000. */
  maxMs?: number
  /** Growth of the upper bound per failed attempt. Default 2. */
  factor?: number
  /** Source of uniform numbers in [0, 1); `Math.random` by default, a seeded generator in tests. */
  random?: () => number
}

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 10_000, factor: 2 } as const

/**
 * The upper bound of the delay before attempt `attempt` (0 = first retry):
 * `min(maxMs, initialMs * factor^attempt)`. Never negative, never above `maxMs`.
 */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs
  const factor = options.factor ?? DEFAULT_BACKOFF.factor
  if (!(attempt >= 0) || !(initialMs >= 0) || !(maxMs >= 0) || !(factor >= 1)) {
    throw new TypeError(
      `invalid backoff: attempt=${attempt} initialMs=${initialMs} maxMs=${maxMs} factor=${factor}`,
    )
  }
  // pow overflows to Infinity, which min() caps; 0 * Infinity would be NaN, so a zero start stays 0.
  if (initialMs === 0) return 0
  return Math.min(maxMs, initialMs * factor ** attempt)
}

/**
 * "Full jitter" delay (AWS architecture blog, Exponential Backoff and Jitter): uniform in
 * `[0, backoffCeiling(attempt))`. Spreading retries over the whole window keeps many clients
 * that lost the same relay from reconnecting in lockstep.
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions = {}): number {
  const random = options.random ?? Math.random
  return Math.floor(random() * backoffCeiling(attempt, options))
}

/**
 * The delay before attempt `attempt` (0 = first retry) with doubling from `baseMs`, capped at
 * `maxMs`: uniform in `[0, min(maxMs, baseMs * 2^attempt))`, as an integer number of ms.
 * `random` is injectable for seeded tests. The positional form of {@link fullJitterDelay} with
 * `factor: 2`, for loops that keep their own attempt counter.
 * @throws TypeError when `attempt`, `baseMs` or `maxMs` is negative or NaN.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return fullJitterDelay(attempt, { initialMs: baseMs, maxMs, factor: 2, random })
}

/** A per-relay retry schedule: `next()` gives the delay of the next attempt and counts it. */
export interface Backoff {
  /** Delay before the next attempt, in ms; increases the attempt count. */
  next(): number
  /** Back to the first attempt, after a connection did useful work (synced). */
  reset(): void
  /** Failed attempts since the last reset. */
  readonly attempt: number
}

/** Creates a {@link Backoff} with full jitter over the given options. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  let attempt = 0
  backoffCeiling(0, options) // validate eagerly: a bad option is a programmer mistake at construction
  return {
    next() {
      const delay = fullJitterDelay(attempt, options)
      attempt++
      return delay
    },
    reset() {
      attempt = 0
    },
    get attempt() {
      return attempt
    },
  }
}
