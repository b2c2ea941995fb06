import type { CheckpointStore } from './CheckpointStore.js'

/** What a {@link CheckpointKeeper} asks of its session. */
export interface KeeperSession {
  /** Changes whenever the socket changes: work of an older one stops. */
  epoch(): number
  /** True when every round is complete and nothing is owed to the relay. */
  settled(): boolean
  /** The relay store id of the current welcome. */
  storeId(): string
  /** Patterns of the completed rounds. */
  covered(): readonly string[]
  /** Index of the oldest unanswered step1 (null: none). */
  oldestStep1(): number | null
  /** Resolves once every update received so far was handed to the store. */
  whenIssued(): Promise<void>
  /** Commits everything issued, then gives the local change sequence. */
  localSeq(): Promise<number>
  /** Resolves once the relay acknowledged every frame sent so far. */
  whenAllAcked(): Promise<void>
}

/**
 * Saves the two checkpoints of one session (spec step 9, docs/PROTOCOL.md section 7.2):
 * - the relay's `seq`, once (a) every round is complete, (b) every step1 sent before it is answered
 *   and (c) everything received before it is in the store (putLocal commits after every append
 *   issued before it, so waiting until they are issued is enough);
 * - the local sequence, once the relay acknowledged every frame sent so far. Valid once every round
 *   is complete and nothing is owed: from the welcome on, every local change is sent on the socket
 *   (edits of open documents and updates from other relays are passed on live) or came from it.
 */
export class CheckpointKeeper {
  readonly #session: KeeperSession
  readonly #store: CheckpointStore
  #pending: { seq: number; barrier: number } | null = null
  #saving = false
  #advancing = false

  constructor(session: KeeperSession, store: CheckpointStore) {
    this.#session = session
    this.#store = store
  }

  /** The relay vouches for `seq` (a `checkpoint`, or a completed round's head); `barrier`: the latest step1 index then. */
  offer(seq: number, barrier: number): void {
    if (this.#pending === null || seq > this.#pending.seq) this.#pending = { seq, barrier }
    void this.save()
  }

  /** Saves the pending relay checkpoint if its conditions hold now (call again when they may). */
  async save(): Promise<void> {
    const pending = this.#pending
    const s = this.#session
    if (pending === null || this.#saving || !s.settled()) return
    const oldest = s.oldestStep1()
    if (oldest !== null && oldest <= pending.barrier) return
    const epoch = s.epoch()
    this.#pending = null
    this.#saving = true
    try {
      await s.whenIssued()
      if (epoch !== s.epoch()) return
      await this.#store.saveRelay(s.storeId(), pending.seq, s.covered())
    } catch {
      // the store closed: the replica is closing
    } finally {
      if (epoch === s.epoch()) this.#saving = false
    }
    if (epoch !== s.epoch()) return
    void this.advanceLocal()
    if (this.#pending !== null) void this.save()
  }

  /** Saves the current local sequence once everything sent so far is acknowledged. */
  async advanceLocal(): Promise<void> {
    const s = this.#session
    if (this.#advancing || !s.settled()) return
    const epoch = s.epoch()
    this.#advancing = true
    try {
      const seq = await s.localSeq()
      if (epoch !== s.epoch()) return
      await s.whenAllAcked()
      if (epoch !== s.epoch()) return
      await this.#store.saveLocal(s.storeId(), seq)
    } catch {
      // the store closed
    } finally {
      if (epoch === s.epoch()) this.#advancing = false
    }
  }

  /** A new socket: nothing pending. */
  reset(): void {
    this.#pending = null
    this.#saving = false
    this.#advancing = false
  }
}
