import { createHash } from 'node:crypto'

/** Keys a {@link DocCreationBudget} remembers at most by default. */
export const DEFAULT_MAX_BUDGET_KEYS = 10_000

interface Bucket {
  tokens: number
  /** `performance.now()` of the last refill. */
  at: number
}

/**
 * Who a new document is charged to: the token's `sub`, else a hash of the token itself (so that
 * the budget never holds a token), else, for anonymous clients, the remote IP address. On a relay
 * without `--auth-secret` pass no token: anonymous clients could otherwise pick a fresh key per
 * socket.
 */
export function docCreationKey(who: { ip: string; sub?: string | undefined; token?: string | null }): string {
  if (who.sub !== undefined) return `sub:${who.sub}`
  if (who.token) return `token:${createHash('sha256').update(who.token).digest('base64url').slice(0, 22)}`
  return `ip:${who.ip}`
}

/**
 * A budget of new documents per minute for each key ({@link docCreationKey}): a token bucket per
 * key holding `perMinute` documents, refilled at `perMinute` a minute. Only documents that are
 * neither stored nor loaded count: opening documents that exist costs nothing here, since their
 * memory is bounded by the sockets and the idle eviction anyway, while each new one costs a
 * loaded Y.Doc and, once written, a stored document.
 *
 * The map of keys is bounded: past `maxKeys`, keys whose bucket has refilled are forgotten first
 * (they are indistinguishable from new keys), then the least recently used tenth.
 */
export class DocCreationBudget {
  readonly #buckets = new Map<string, Bucket>()
  readonly #perMs: number

  /**
   * @param perMinute new documents one key may open per minute (and at once); 0 disables the budget.
   * @throws TypeError for a negative or non-integer `perMinute` or a `maxKeys` below 1.
   */
  constructor(
    readonly perMinute: number,
    readonly maxKeys = DEFAULT_MAX_BUDGET_KEYS,
  ) {
    if (!Number.isInteger(perMinute) || perMinute < 0) throw new TypeError('perMinute must be a whole number')
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError('maxKeys must be at least 1')
    this.#perMs = perMinute / 60_000
  }

  /** False when the budget is disabled (`perMinute` 0). */
  get enabled(): boolean {
    return this.perMinute > 0
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.#buckets.size
  }

  /**
   * Admits a socket of `key` to a document: true when the document is not new (`isNew` resolves
   * false; it is not even asked while the budget is disabled) or `key` still has budget, which is
   * then charged one document. Errors of `isNew` propagate.
   */
  async admit(key: string, isNew: () => boolean | Promise<boolean>): Promise<boolean> {
    if (!this.enabled || !(await isNew())) return true
    return this.take(key)
  }

  /** Charges one new document to `key`; false (nothing charged) when its budget is spent. */
  take(key: string, now = performance.now()): boolean {
    if (!this.enabled) return true
    let bucket = this.#buckets.get(key)
    if (bucket) {
      this.#refill(bucket, now)
      // Re-inserted so that the map stays in least-recently-used order.
      this.#buckets.delete(key)
    } else {
      this.#makeRoom(now)
      bucket = { tokens: this.perMinute, at: now }
    }
    this.#buckets.set(key, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  #refill(bucket: Bucket, now: number): void {
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.#perMs)
    bucket.at = now
  }

  #makeRoom(now: number): void {
    if (this.#buckets.size < this.maxKeys) return
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now)
      if (bucket.tokens >= this.perMinute) this.#buckets.delete(key)
    }
    // Every key is busy: forgetting a tenth at once keeps this sweep rare.
    let drop = this.#buckets.size >= this.maxKeys ? Math.ceil(this.maxKeys / 10) : 0
    for (const key of this.#buckets.keys()) {
      if (drop-- <= 0) break
      this.#buckets.delete(key)
    }
  }
}
