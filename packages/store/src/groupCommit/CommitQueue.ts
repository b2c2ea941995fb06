interface Waiting<J> {
  job: J
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * Group commit: runs at most one `commit` at a time; every job enqueued while one is in flight
 * waits and goes, together with all others that arrived meanwhile, into the next single commit.
 * A burst of jobs enqueued in the same tick shares one commit as well (the first commit starts on
 * a microtask).
 *
 * @typeParam J - the unit of work the `commit` function turns into one atomic write.
 */
export class CommitQueue<J> {
  readonly #commit: (jobs: readonly J[]) => Promise<void>
  #waiting: Waiting<J>[] = []
  #running = false
  #settled: Promise<void> = Promise.resolve()

  /**
   * @param commit - writes all given jobs atomically. If it throws, every job of that group is
   * rejected with the error; later groups are unaffected.
   */
  constructor(commit: (jobs: readonly J[]) => Promise<void>) {
    this.#commit = commit
  }

  /** Jobs waiting for the next commit (not counting the one in flight). */
  get waiting(): number {
    return this.#waiting.length
  }

  /** Resolves after the commit that contains `job` finished; rejects with that commit's error. */
  enqueue(job: J): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#waiting.push({ job, resolve, reject })
    })
    this.#settled = done.catch(() => {})
    if (!this.#running) {
      this.#running = true
      queueMicrotask(() => void this.#loop())
    }
    return done
  }

  /** Resolves (never rejects) once every job enqueued before this call has been committed or failed. */
  drain(): Promise<void> {
    return this.#settled
  }

  async #loop(): Promise<void> {
    while (this.#waiting.length > 0) {
      const group = this.#waiting
      this.#waiting = []
      try {
        await this.#commit(group.map((w) => w.job))
        for (const w of group) w.resolve()
      } catch (err) {
        for (const w of group) w.reject(err)
      }
    }
    this.#running = false
  }
}
