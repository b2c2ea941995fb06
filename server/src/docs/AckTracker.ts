/** What a peer link exposes for durability accounting. */
export interface AckSource {
  /** Peer store identity; two links to the same store count once. */
  readonly peerStoreId: string
  /** Highest sequence number the peer has acknowledged as durable. */
  readonly ackedSeq: number
  /** False once the link closed: targets it has not yet reached never will be. */
  readonly open: boolean
}

interface Entry {
  n: number
  receivedAt: number
  localDone: boolean
  /** Part of message n waits for structs the relay lacks: nothing from n on may be acknowledged. */
  held: boolean
  /** Per peer link: the sequence number the peer must acknowledge to hold this state. */
  targets: Map<AckSource, number>
  sentCopies: number
}

/**
 * Turns "message n was applied" plus local commits and peer acknowledgements into the ACK(n, copies)
 * stream of docs/PROTOCOL.md section 3: n never decreases and, for one n, copies only grows.
 * An entry that a later one subsumes (same or more copies, larger n) is dropped.
 */
export class AckTracker {
  #entries: Entry[] = []
  #lastN = 0
  #lastCopies = 0
  #scheduled = false

  constructor(private readonly send: (n: number, copies: number, receivedAt: number) => void) {}

  /** Registers message n with the peer targets it needs; call `localDone(n)` after its commit. */
  track(n: number, targets: Map<AckSource, number>): void {
    this.#entries.push({
      n,
      receivedAt: performance.now(),
      localDone: false,
      held: false,
      targets,
      sentCopies: 0,
    })
  }

  /**
   * Message n (tracked) could not integrate whole: no ACK of n or any later message is sent until
   * {@link release}, since an ACK covers every earlier message.
   */
  hold(n: number): void {
    const e = this.#entries.find((x) => x.n === n)
    if (e) e.held = true
  }

  /**
   * What message n held integrated and is durable in this relay's store. `targets` are the peer
   * sequence numbers that cover the integrated part (it was forwarded after the targets taken at
   * `track`); every entry from n on needs them too, since its ACK would cover n.
   */
  release(n: number, targets: Map<AckSource, number>): void {
    for (const e of this.#entries) {
      if (e.n < n) continue
      if (e.n === n) {
        e.held = false
        e.localDone = true
      }
      const merged = new Map<AckSource, number>()
      for (const [link, seq] of targets) merged.set(link, Math.max(seq, e.targets.get(link) ?? 0))
      e.targets = merged
    }
    this.localDone(n)
  }

  /** Message n (and so everything before it) is durable in this relay's store. */
  localDone(n: number): void {
    for (const e of this.#entries) if (e.n <= n) e.localDone = true
    // One group commit completes many messages of a socket at once: their callbacks run in the same
    // microtask checkpoint, and one evaluation after all of them sends one ACK instead of many.
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      this.evaluate()
    })
  }

  /** Re-evaluates after peer acknowledgements changed. */
  evaluate(): void {
    if (this.#entries.length === 0) return
    const firstHeld = this.#entries.findIndex((e) => e.held)
    const open = firstHeld < 0 ? this.#entries : this.#entries.slice(0, firstHeld)
    const ready = open.filter((e) => e.localDone)
    if (ready.length === 0) return
    const copiesOf = (e: Entry) => {
      const stores = new Set<string>()
      for (const [link, seq] of e.targets) if (link.ackedSeq >= seq) stores.add(link.peerStoreId)
      return 1 + stores.size
    }
    const computed = ready.map((e) => ({ e, copies: copiesOf(e) }))
    // An entry is subsumed when a later one already says as much (same or more copies).
    const subsumed: boolean[] = new Array(computed.length)
    let laterMax = 0
    for (let i = computed.length - 1; i >= 0; i--) {
      subsumed[i] = laterMax >= computed[i]!.copies
      laterMax = Math.max(laterMax, computed[i]!.copies)
    }
    for (let i = 0; i < computed.length; i++) {
      const { e, copies } = computed[i]!
      if (subsumed[i]) continue
      if (e.n < this.#lastN) continue
      if (e.n === this.#lastN && copies <= this.#lastCopies) continue
      this.#lastN = e.n
      this.#lastCopies = copies
      e.sentCopies = copies
      this.send(e.n, copies, e.receivedAt)
    }
    // Keep only entries that can still say something new.
    this.#entries = this.#entries.filter((e) => {
      if (e.n < this.#lastN) return false
      if (!e.localDone) return true
      const reachable = new Set<string>()
      for (const [link, seq] of e.targets)
        if (link.open || link.ackedSeq >= seq) reachable.add(link.peerStoreId)
      return e.sentCopies < 1 + reachable.size
    })
  }

  /** Number of messages waiting for local or peer durability. */
  get pending(): number {
    return this.#entries.length
  }
}
