/**
 * Capped exponential backoff with full jitter: attempt k waits a uniform random time in
 * [0, min(cap, base * 2^k)). `random` is injectable for seeded tests.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
