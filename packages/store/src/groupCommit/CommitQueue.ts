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
 * A durable group's promises resolve once the next group's write was handed to the database (or
 * at once when no group waits): what their callers do then (a relay sends ACKs, one socket write
 * each) would otherwise run between two commits, on the path of every job in the next one. Groups
 * still resolve in commit order and only after their own commit is durable.
 *
 * @typeParam J - the unit of work the `commit` function turns into one atomic write.
 */
export class CommitQueue<J> {
  readonly #commit: (jobs: readonly J[], submitted: () => void) => Promise<void>
  #waiting: Waiting<J>[] = []
  #running = false
  #settled: Promise<void> = Promise.resolve()

  /**
   * @param commit - writes all given jobs atomically. If it throws, every job of that group is
   * rejected with the error; later groups are unaffected. It calls `submitted` once its write is
   * under way (it may not, for a commit that writes nothing).
   */
  constructor(commit: (jobs: readonly J[], submitted: () => void) => Promise<void>) {
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
    // The last durable group, told once the next write is under way (or when none follows).
    let durable: Waiting<J>[] = []
    const release = (): void => {
      const told = durable
      durable = []
      for (const w of told) w.resolve()
    }
    while (this.#waiting.length > 0) {
      const group = this.#waiting
      this.#waiting = []
      try {
        await this.#commit(
          group.map((w) => w.job),
          release,
        )
        release()
        durable = group
      } catch (err) {
        release()
        for (const w of group) w.reject(err)
      }
    }
    release()
    this.#running = false
  }
}
