interface Waiting<J> {
  job: J
  resolve: () => void
  reject: (err: unknown) => void
}

/** The staged batch of the next commit, whose jobs ran while the previous batch was being written. */
interface Open<J, B> {
  batch: B
  group: Waiting<J>[]
  /** The runs so far, one after another in enqueue order; never rejects. */
  runs: Promise<void>
  /** The first run's failure: the whole group fails with it. */
  failure: { err: unknown } | null
}

/** What a {@link CommitPipeline} does with its jobs. */
export interface CommitSteps<J, B> {
  /**
   * True when `job` may run while the batch before its own is being written, on that batch's staged
   * state (it reads nothing else the batch in flight may change, and running it again on a fresh
   * batch is harmless).
   */
  early(job: J): boolean
  /** A new, empty batch: on top of `base` (staged, being written) or, for `null`, the committed state. */
  open(base: B | null): B
  /** Runs `jobs` in order into `batch`. A throw fails the batch's whole group. */
  run(batch: B, jobs: readonly J[]): Promise<void>
  /**
   * Finishes `batch` and writes it atomically; resolves once durable and installed. Calls
   * `submitted` once the batch is final and its write under way (it may not, for a batch that
   * writes nothing). A throw fails the group.
   */
  write(batch: B, jobs: readonly J[], submitted: () => void): Promise<void>
}

/**
 * Group commit with the next batch prepared while the current one is written. At most one batch is
 * written at a time, strictly in order: the next write is handed to the database only after the
 * previous one resolved, since a backend such as classic-level runs writes on a thread pool and
 * need not apply two in flight in call order. Every job enqueued while a batch is in flight goes,
 * with all others that arrived meanwhile, into the next single batch; jobs that allow it
 * ({@link CommitSteps.early}) run into that batch at once, so when the write in flight resolves,
 * little more than its ops is left to hand over. A burst enqueued in the same tick shares one
 * commit as well (the first commit starts on a microtask).
 *
 * A job's promise resolves only after the batch containing it is durable, in commit order: once the
 * next batch's write is under way (what callers do then, such as a relay sending its ACKs, would
 * otherwise sit between two writes) or at once when no batch follows. If a write fails, its jobs
 * are rejected and the batch staged on top of it is staged again from the committed state.
 *
 * @typeParam J - a unit of work. @typeParam B - a staged batch.
 */
export class CommitPipeline<J, B> {
  readonly #steps: CommitSteps<J, B>
  /** Jobs not run yet, in enqueue order; they come after those of {@link #open}. */
  #waiting: Waiting<J>[] = []
  #open: Open<J, B> | null = null
  /** The batch being written, from its submission until its write resolved. */
  #inFlight: B | null = null
  #running = false
  #settled: Promise<void> = Promise.resolve()

  constructor(steps: CommitSteps<J, B>) {
    this.#steps = steps
  }

  /** Jobs waiting for the next commit (not counting the batch in flight). */
  get waiting(): number {
    return this.#waiting.length + (this.#open?.group.length ?? 0)
  }

  /** Resolves after the commit that contains `job` is durable; rejects with that commit's error. */
  enqueue(job: J): Promise<void> {
    let waiting: Waiting<J> | undefined
    const done = new Promise<void>((resolve, reject) => {
      waiting = { job, resolve, reject }
    })
    this.#settled = done.catch(() => {})
    // Early only while nothing queued before it waits to run: jobs run in enqueue order.
    if (this.#inFlight !== null && this.#waiting.length === 0 && this.#steps.early(job))
      this.#runEarly([waiting!])
    else this.#waiting.push(waiting!)
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

  #runEarly(group: Waiting<J>[]): void {
    const base = this.#inFlight
    if (this.#open === null) {
      this.#open = { batch: this.#steps.open(base), group: [], runs: Promise.resolve(), failure: null }
    }
    const open = this.#open
    open.group.push(...group)
    const jobs = group.map((w) => w.job)
    open.runs = open.runs
      .then(() => (open.failure ? undefined : this.#steps.run(open.batch, jobs)))
      .catch((err) => {
        open.failure ??= { err }
      })
  }

  async #loop(): Promise<void> {
    // The last durable group, told once the next write is under way (or when none follows).
    let durable: Waiting<J>[] = []
    const release = (): void => {
      const told = durable
      durable = []
      for (const w of told) w.resolve()
    }
    // The open batch was staged on a batch whose write failed: it must be staged again.
    let restage = false
    while (this.#open !== null || this.#waiting.length > 0) {
      const open = this.#open
      this.#open = null
      let batch: B
      let group: Waiting<J>[] = []
      let failure: { err: unknown } | null = null
      if (open !== null) {
        await open.runs
        group = open.group
        batch = open.batch
        failure = open.failure
        if (restage) {
          batch = this.#steps.open(null)
          failure = null
          try {
            await this.#steps.run(
              batch,
              group.map((w) => w.job),
            )
          } catch (err) {
            failure = { err }
          }
        }
      } else batch = this.#steps.open(null)
      restage = false
      // Whatever arrived while the open batch ran (or the previous write was in flight) goes in too.
      const rest = this.#waiting
      this.#waiting = []
      if (rest.length > 0) {
        group = group.concat(rest)
        if (failure === null) {
          try {
            await this.#steps.run(
              batch,
              rest.map((w) => w.job),
            )
          } catch (err) {
            failure = { err }
          }
        }
      }
      if (failure !== null) {
        release()
        for (const w of group) w.reject(failure.err)
        continue
      }
      try {
        await this.#steps.write(
          batch,
          group.map((w) => w.job),
          () => {
            this.#inFlight = batch
            // Jobs that arrived while this batch was finished start the next one now, if they may.
            if (this.#waiting.length > 0 && this.#waiting.every((w) => this.#steps.early(w.job))) {
              const early = this.#waiting
              this.#waiting = []
              this.#runEarly(early)
            }
            release()
          },
        )
        release()
        durable = group
      } catch (err) {
        restage = true
        release()
        for (const w of group) w.reject(err)
      } finally {
        this.#inFlight = null
      }
    }
    release()
    this.#running = false
  }
}
