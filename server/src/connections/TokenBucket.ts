/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  #tokens: number
  #last = performance.now()

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst
  }

  /** Takes `n` tokens; false when the bucket is empty (the caller is over its rate). */
  take(n: number): boolean {
    const now = performance.now()
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate)
    this.#last = now
    if (this.#tokens < n) return false
    this.#tokens -= n
    return true
  }
}
