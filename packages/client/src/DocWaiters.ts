import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/** Options of {@link DocHandle.whenDurable} and {@link DocHandle.whenSynced}. */
export interface WaitOptions {
  /** Reject with RhizomeError TIMEOUT after this many ms. Default: wait until the handle closes. */
  timeout?: number
}

interface Waiter {
  ready(): boolean
  resolve(): void
  reject(err: unknown): void
  timer: ReturnType<typeof setTimeout> | null
  done: boolean
}

/**
 * The pending `whenSynced` and `whenDurable` calls of one document handle. Each wait settles when
 * its `ready()` returns true (resolve) or throws (reject with that error), at the latest at its
 * timeout (RhizomeError TIMEOUT) or at {@link rejectAll}. Readiness is checked at {@link settle}.
 */
export class DocWaiters {
  readonly #syncWaiters = new Set<Waiter>()
  /**
   * whenDurable waiters by `k`, in call order. Along one queue the target (local version and
   * append) only grows, so readiness is monotone: settling pops a ready prefix and stops at the
   * first waiter that is not ready, which keeps a burst of edits each awaiting durability linear.
   */
  readonly #durableQueues = new Map<number, Waiter[]>()

  /** Waits until `ready()` (checked at once and at every {@link settle}); see the class TSDoc. */
  untilSynced(ready: () => boolean, options: WaitOptions, describe: () => string): Promise<void> {
    return this.#wait(this.#syncWaiters, ready, options, describe)
  }

  /**
   * As {@link untilSynced}, in the queue of `k`: its `ready()` must only turn true in call order
   * (a later call's target is never reached before an earlier one's).
   */
  untilDurable(k: number, ready: () => boolean, options: WaitOptions, describe: () => string): Promise<void> {
    let queue = this.#durableQueues.get(k)
    if (queue === undefined) {
      queue = []
      this.#durableQueues.set(k, queue)
    }
    return this.#wait(queue, ready, options, describe)
  }

  /** Rejects every pending wait with `err` and forgets them. */
  rejectAll(err: unknown): void {
    for (const w of this.#syncWaiters) this.#finish(w, err)
    for (const queue of this.#durableQueues.values()) for (const w of queue) this.#finish(w, err)
    this.#durableQueues.clear()
  }

  /** Checks the pending waits: the ready ones resolve, the failed ones reject. */
  settle(): void {
    for (const w of this.#syncWaiters) if (this.#settle(w)) this.#syncWaiters.delete(w)
    for (const queue of this.#durableQueues.values()) {
      let i = 0
      while (i < queue.length && this.#settle(queue[i]!)) i++
      if (i > 0) queue.splice(0, i)
    }
  }

  #wait(
    into: Set<Waiter> | Waiter[],
    ready: () => boolean,
    options: WaitOptions,
    describe: () => string,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { ready, resolve, reject, timer: null, done: false }
      if (options.timeout !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#finish(
            waiter,
            new RhizomeError(ErrorCode.TIMEOUT, `timed out after ${options.timeout} ms: ${describe()}`),
          )
        }, options.timeout)
      }
      if (into instanceof Set) into.add(waiter)
      else into.push(waiter)
      this.settle()
    })
  }

  /** Finishes the waiter if it is ready or failed; returns true when it is done. */
  #settle(waiter: Waiter): boolean {
    if (waiter.done) return true
    try {
      if (!waiter.ready()) return false
      this.#finish(waiter, null)
    } catch (err) {
      this.#finish(waiter, err)
    }
    return true
  }

  #finish(waiter: Waiter, err: unknown): void {
    if (waiter.done) return
    waiter.done = true
    if (waiter.timer !== null) clearTimeout(waiter.timer)
    if (err === null) waiter.resolve()
    else waiter.reject(err)
  }
}
