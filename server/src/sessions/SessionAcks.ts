import { type AckSource, AckTracker } from '../docs/AckTracker.js'

/** Sends `ack {doc, n, copies}`; `receivedAt` is when message `n` arrived (performance.now()). */
export type SendSessionAck = (doc: string, n: number, copies: number, receivedAt: number) => void

/**
 * The ACK bookkeeping of one device session, per document, with the meaning of docs/PROTOCOL.md
 * section 3: `n` counts the session's `sync step2` and `sync update` messages of that document from
 * 1, and `ack {doc, n, copies}` says everything the relay had applied to the document when it
 * processed message `n` is durable in `copies` relay stores. A document's {@link AckTracker} exists
 * only while it has ACKs to send (a device may push thousands of documents); its counter lives as
 * long as the session, so `n` never decreases even when a tracker is dropped and made again.
 */
export class SessionAcks {
  readonly #counters = new Map<string, number>()
  readonly #trackers = new Map<string, AckTracker>()

  constructor(private readonly send: SendSessionAck) {}

  /** Counts one more step2/update message of `doc`; returns its `n`. */
  next(doc: string): number {
    const n = (this.#counters.get(doc) ?? 0) + 1
    this.#counters.set(doc, n)
    return n
  }

  /**
   * Registers message `n` of `doc` with the peer targets it needs (taken right after the apply);
   * once `committed` resolves its local copy counts. A failed commit is never acknowledged.
   */
  track(doc: string, n: number, targets: Map<AckSource, number>, committed: Promise<void>): void {
    let tracker = this.#trackers.get(doc)
    if (!tracker) {
      const t = new AckTracker((n, copies, receivedAt) => this.send(doc, n, copies, receivedAt))
      this.#trackers.set(doc, t)
      tracker = t
    }
    tracker.track(n, targets)
    const settled = tracker
    committed.then(
      () => {
        if (this.#trackers.get(doc) !== settled) return
        settled.localDone(n)
        // After the tracker's own evaluation (queued by localDone): drop it once it has nothing left.
        queueMicrotask(() => this.#dropIfSettled(doc, settled))
      },
      () => {},
    )
  }

  /** Peer acknowledgements changed: documents waiting for copies re-evaluate. */
  reevaluate(): void {
    for (const [doc, tracker] of this.#trackers) {
      tracker.evaluate()
      this.#dropIfSettled(doc, tracker)
    }
  }

  /** True while some document still waits for an ACK (local or peer copies). */
  get pending(): boolean {
    return this.#trackers.size > 0
  }

  /** Forgets every tracker (the session closed). */
  clear(): void {
    this.#trackers.clear()
  }

  #dropIfSettled(doc: string, tracker: AckTracker): void {
    if (tracker.pending === 0 && this.#trackers.get(doc) === tracker) this.#trackers.delete(doc)
  }
}
