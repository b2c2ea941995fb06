/** What a {@link KeyedQueue} reports. */
export interface KeyedQueueEvents {
  /** A task threw or rejected. */
  onError(err: unknown): void
  /** More than the high-water mark of tasks wait (true), or the queue drained under the low mark (false). */
  onPressure(high: boolean): void
}

/**
 * Runs asynchronous tasks in order per key and different keys concurrently: the frames of one
 * document of a device session are handled strictly in order (its ACK counter, its updates),
 * while a slow store read of one document does not hold up the others. Reports when too many
 * tasks wait, so that the session stops reading its socket.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>()
  #waiting = 0
  #pressured = false

  constructor(
    private readonly events: KeyedQueueEvents,
    private readonly highWater = 256,
    private readonly lowWater = 128,
  ) {}

  /** Runs `task` after every task queued before it under `key`. */
  run(key: string, task: () => Promise<void> | void): void {
    this.#waiting++
    if (!this.#pressured && this.#waiting > this.highWater) {
      this.#pressured = true
      this.events.onPressure(true)
    }
    const tail = (this.#tails.get(key) ?? Promise.resolve())
      .then(task)
      .catch((err) => this.events.onError(err))
      .finally(() => {
        if (this.#tails.get(key) === tail) this.#tails.delete(key)
        this.#waiting--
        if (this.#pressured && this.#waiting < this.lowWater) {
          this.#pressured = false
          this.events.onPressure(false)
        }
      })
    this.#tails.set(key, tail)
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.#waiting
  }
}
