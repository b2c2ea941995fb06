/**
 * Runs async tasks with at most `concurrency` at once, in the order they were queued: a session
 * works through a listing of 10,000 documents without 10,000 store reads and step1s in flight.
 */
export class WorkQueue {
  readonly #concurrency: number
  readonly #queue: Array<() => Promise<void>> = []
  #active = 0

  constructor(concurrency: number) {
    this.#concurrency = concurrency
  }

  /** Queues `task`; a task that throws is the task's business (it should catch). */
  push(task: () => Promise<void>): void {
    this.#queue.push(task)
    this.#pump()
  }

  /** Drops the tasks not started yet (running ones finish on their own). */
  clear(): void {
    this.#queue.length = 0
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      const task = this.#queue.shift()!
      this.#active++
      void task()
        .catch(() => {})
        .finally(() => {
          this.#active--
          this.#pump()
        })
    }
  }
}
