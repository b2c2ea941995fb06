/**
 * Durability of what the peer sent on one link, acknowledged with mesh `ack`s (which let the peer
 * count this relay's copy in its client ACKs, docs/PROTOCOL.md section 3): the sequence numbers applied, in order, each done once its commit is durable. The acknowledged number only
 * moves over a prefix that is all durable, so an ack never covers an update still in flight.
 */
export class InboundAcks {
  #durable: { seq: number; done: boolean }[] = []
  #ackedOut = 0
  #waiters: { seq: number; resolve: () => void }[] = []

  constructor(
    /** Sends an `ack` of everything through `seq`. */
    private readonly sendAck: (seq: number) => void,
    /** False once the link is closed: waiters are released then. */
    private readonly isOpen: () => boolean,
  ) {}

  /** The last sequence number applied (0 before any). */
  get lastSeq(): number {
    return this.#durable.at(-1)?.seq ?? 0
  }

  /**
   * Records that the update numbered `seq` was applied; call it in arrival order.
   * @returns the callback to run once its commit is durable.
   */
  applied(seq: number): () => void {
    const entry = { seq, done: false }
    this.#durable.push(entry)
    return () => {
      entry.done = true
      this.#flush()
    }
  }

  /** Resolves once everything the peer sent through `seq` is durable here, or the link closed. */
  whenDurableThrough(seq: number): Promise<void> {
    if (!this.isOpen() || this.#ackedOut >= seq) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }))
  }

  /** Releases the waiters that are due (all of them once the link closed). */
  wake(): void {
    const closed = !this.isOpen()
    this.#waiters = this.#waiters.filter((w) => {
      if (!closed && w.seq > this.#ackedOut) return true
      w.resolve()
      return false
    })
  }

  #flush(): void {
    let acked = this.#ackedOut
    while (this.#durable.length > 0 && this.#durable[0]!.done) acked = this.#durable.shift()!.seq
    if (acked > this.#ackedOut) {
      this.#ackedOut = acked
      this.sendAck(acked)
      this.wake()
    }
  }
}
