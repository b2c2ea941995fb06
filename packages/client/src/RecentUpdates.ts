import { crc32 } from '@rhizome/store'

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Live edits are small; whole-document step2 payloads are not worth the memory. */
const MAX_KEPT_BYTES = 64 * 1024

function keyOf(doc: string, update: Uint8Array): string {
  return `${doc}\u0000${update.length}:${crc32(update)}`
}

/**
 * The updates of documents (not open) applied recently, so that the copy of one update that every
 * relay of a mesh forwards is stored and passed on once, not once per relay. Relays forward an
 * update's bytes as they received them, so copies are byte-equal; a hit is confirmed by comparing
 * the bytes, never by the hash alone (a false hit would drop an edit until the next listing).
 * Bounded: the oldest entries are forgotten first.
 */
export class RecentUpdates {
  readonly #limit: number
  readonly #maxBytes: number
  readonly #seen = new Map<string, Uint8Array>()
  #bytes = 0

  /** Keeps at most `limit` updates and `maxBytes` bytes of them. */
  constructor(limit = 4096, maxBytes = 8 * 1024 * 1024) {
    this.#limit = limit
    this.#maxBytes = maxBytes
  }

  /** True when the same bytes of `doc` were recorded (and not forgotten yet). */
  has(doc: string, update: Uint8Array): boolean {
    const previous = this.#seen.get(keyOf(doc, update))
    return previous !== undefined && sameBytes(previous, update)
  }

  /** Records `update` of `doc` (once applied). Large updates (whole documents) are not kept. */
  add(doc: string, update: Uint8Array): void {
    if (update.length > MAX_KEPT_BYTES) return
    const key = keyOf(doc, update)
    const previous = this.#seen.get(key)
    if (previous !== undefined) {
      this.#seen.delete(key)
      this.#bytes -= previous.length
    }
    this.#seen.set(key, update)
    this.#bytes += update.length
    while (this.#seen.size > this.#limit || this.#bytes > this.#maxBytes) {
      const oldest = this.#seen.entries().next().value
      if (oldest === undefined) break
      this.#seen.delete(oldest[0])
      this.#bytes -= oldest[1].length
    }
  }
}
