import { WorkQueue } from './WorkQueue.js'

/** One listing round of a relay (spec step 3): `hello` starts round 1, each `replicate` the next. */
export interface Round {
  readonly number: number
  readonly patterns: string[]
  readonly resumed: boolean
  /** Documents the relay listed (kept for a round that is not resumed: the others are pushed). */
  readonly listed: Set<string>
  pagesDone: boolean
  /** Tasks queued or running for this round. */
  tasks: number
  /** Round 1 also walks the local change feed; false until that is done. */
  localDone: boolean
}

/** The work a {@link SessionRounds} hands back to its session. */
export interface RoundWork {
  /** Changes whenever the socket changes: tasks of an older one are dropped. */
  epoch(): number
  /** True while the session is welcomed. */
  ready(): boolean
  /** True while relay step1s are being answered (a round is complete only after our answers). */
  answering(): boolean
  /** Compares `doc` (by digest when given) and syncs it if needed. */
  offer(doc: string, digest?: string): Promise<void>
  /** The relay listed `doc` as deleted at `at` (docs/PROTOCOL.md sections 7.2 and 9). */
  deleted(doc: string, at: number): void
  /** Pushes the local documents of a round that is not resumed which the relay did not list. */
  pushAbsent(round: Round): Promise<void>
  /** A round started: the session is `syncing`. */
  started(): void
  /** Every round is complete and nothing is owed: the session is `synced`. */
  completed(): void
}

/**
 * The rounds of one session and their tasks: listing entries worked on with bounded concurrency,
 * which patterns completed rounds cover, and the documents owed to the relay (changed by another
 * relay's answers while a round ran, offered again at its end in a round of our own).
 */
export class SessionRounds {
  readonly #work: RoundWork
  readonly #rounds = new Map<number, Round>()
  readonly #queue: WorkQueue
  readonly #owed = new Set<string>()
  #next = 1
  /** Rounds of our own (owed documents) are numbered below 1, apart from the relay's. */
  #own = 0
  #covered: string[] = []
  #complete = false

  constructor(work: RoundWork, concurrency: number) {
    this.#work = work
    this.#queue = new WorkQueue(concurrency)
  }

  /** True once every round is complete and nothing is owed. */
  get complete(): boolean {
    return this.#complete
  }

  /** Patterns of the completed rounds on this socket. */
  get covered(): readonly string[] {
    return this.#covered
  }

  /** True when documents are owed to the relay. */
  get owing(): boolean {
    return this.#owed.size > 0
  }

  /** Starts a round (relay-numbered unless `own`). */
  start(patterns: readonly string[], resumed: boolean, own = false): Round {
    const round: Round = {
      number: own ? this.#own-- : this.#next++,
      patterns: [...patterns],
      resumed,
      listed: new Set(),
      pagesDone: false,
      tasks: 0,
      localDone: true,
    }
    this.#rounds.set(round.number, round)
    this.#complete = false
    this.#work.started()
    return round
  }

  /** A `changes` page of round `number`: each entry is offered; the last page may start the pushes. */
  onChanges(
    number: number,
    entries: ReadonlyArray<{ doc: string; digest: string; deletedAt?: number }>,
    last: boolean,
  ): void {
    const round = this.#rounds.get(number)
    if (round === undefined) return
    for (const entry of entries) {
      if (entry.deletedAt !== undefined) {
        // A tombstone (docs/PROTOCOL.md section 9): removed locally, never offered or pushed back.
        this.#work.deleted(entry.doc, entry.deletedAt)
        continue
      }
      if (!round.resumed) round.listed.add(entry.doc)
      this.add(round, () => this.#work.offer(entry.doc, entry.digest))
    }
    if (!last) return
    round.pagesDone = true
    if (!round.resumed) this.add(round, () => this.#work.pushAbsent(round))
    this.check()
  }

  /** Queues a task of `round`; the round stays open until it finished. */
  add(round: Round, task: () => Promise<void>): void {
    round.tasks++
    const epoch = this.#work.epoch()
    this.#queue.push(async () => {
      try {
        if (epoch === this.#work.epoch()) await task()
      } catch {
        // A failed local read (a closing store, a corrupt document): the next round tries again.
      } finally {
        round.tasks--
        if (epoch === this.#work.epoch()) this.check()
      }
    })
  }

  /** `doc` changed through another relay while a round ran here: offer it before completing. */
  owe(doc: string): void {
    this.#owed.add(doc)
  }

  /** `doc` is being compared (or pushed) now: nothing more is owed for it. */
  settle(doc: string): void {
    this.#owed.delete(doc)
  }

  /** Completes every round whose pages, tasks and answers are done; once all are, `completed()`. */
  check(): void {
    const work = this.#work
    if (!work.ready()) return
    for (const round of this.#rounds.values()) {
      if (!round.pagesDone || !round.localDone || round.tasks > 0 || work.answering()) continue
      this.#rounds.delete(round.number)
      for (const p of round.patterns) if (!this.#covered.includes(p)) this.#covered.push(p)
    }
    if (this.#rounds.size > 0 || this.#complete || work.answering()) return
    if (this.#owed.size > 0) {
      // Content that arrived from other relays while a round ran, for documents it did not compare
      // afterwards: each is offered once more, in a round of our own.
      const round = this.start([], true, true)
      round.pagesDone = true
      for (const doc of this.#owed) this.add(round, () => work.offer(doc))
      this.#owed.clear()
      return
    }
    this.#complete = true
    work.completed()
  }

  /** A new socket: no rounds, nothing covered or owed, queued tasks dropped. */
  reset(): void {
    this.#rounds.clear()
    this.#queue.clear()
    this.#owed.clear()
    this.#next = 1
    this.#own = 0
    this.#covered = []
    this.#complete = false
  }
}
