import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * Whether a store is still open, and the background work (compactions, repairs, LevelDB range
 * compactions) that it must finish before its database closes.
 */
export class Lifecycle {
  readonly #background = new Set<Promise<unknown>>()
  /** Per-document tail of compactions and repairs, which must not overlap for one document. */
  readonly #exclusive = new Map<string, Promise<void>>()
  #closed = false

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** @throws RhizomeError STORE_CLOSED after {@link close}. */
  assertOpen(): void {
    if (this.#closed) throw new RhizomeError(ErrorCode.STORE_CLOSED, 'the store is closed')
  }

  /** Marks the store closed: {@link assertOpen} throws from now on. Tracked work keeps running. */
  close(): void {
    this.#closed = true
  }

  /** Remembers `work` until it settles, so that {@link idle} waits for it. Returns `work`. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#background.add(work)
    const untrack = () => this.#background.delete(work)
    work.then(untrack, untrack)
    return work
  }

  /** Runs `fn` after every earlier `exclusively` call for the same document has settled. */
  exclusively(name: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#exclusive.get(name) ?? Promise.resolve()
    const run = previous.then(fn)
    const tail = run.catch(() => {})
    this.#exclusive.set(name, tail)
    void tail.then(() => {
      if (this.#exclusive.get(name) === tail) this.#exclusive.delete(name)
    })
    return run
  }

  /** Resolves (never rejects) once no tracked work is left, including work tracked while waiting. */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
  }
}
