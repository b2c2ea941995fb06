/**
 * Durability bookkeeping for one relay connection, from the ACK semantics of docs/PROTOCOL.md section 3.
 *
 * The handle keeps a local *version*: the number of updates the local replica has applied, so that
 * a larger version always means a superset of the state. For every SYNC step2/update frame the
 * socket sends, the tracker notes the version that frame brings the relay to, but only after the
 * socket sent its step2 answering the relay's step1: that step2 is a diff against the relay's
 * state vector, so once the relay applied it, the relay holds the whole local state of that moment;
 * frames sent later on the same socket extend it in order. `ACK(n, c)` then means: local versions up
 * to the one noted for frame n (or any earlier frame) are durable in `c` relay stores.
 *
 * A tracker lives as long as its connection; {@link DurabilityTracker.reset} starts over for each
 * new socket, because frame numbers restart at 1 and the next socket is counted only once
 * acknowledged.
 */
export class DurabilityTracker {
  private sent = 0
  private baseline = false
  /** Frames sent after the baseline and not yet acknowledged: [frame number, version]. */
  private unacked: Array<[number, number]> = []
  private lastAckN = 0
  /** Highest version the latest ACK covers; -1 while no acknowledged frame carried a version. */
  private lastAckVersion = -1
  /** Non-dominated (version, copies) pairs: each says "versions <= version are in `copies` stores". */
  private coverage: Array<{ version: number; copies: number }> = []

  /** Frames counted on the current socket (the `n` of the last step2/update sent). */
  get frames(): number {
    return this.sent
  }

  /** True once the socket sent the step2 answering the relay's step1. */
  get hasBaseline(): boolean {
    return this.baseline
  }

  /**
   * Records an outgoing SYNC frame. `version` is the local version the frame brings the relay to
   * (for a step2: everything the local replica holds; for an update: the version after it).
   * `n` is the frame's number when the caller keeps the count (a session numbers the frames of a
   * document from its first, which may predate this tracker); by default the next one. Returns `n`.
   */
  frameSent(kind: 'step2' | 'update', version: number, n = this.sent + 1): number {
    this.sent = n
    if (kind === 'step2') this.baseline = true
    // Updates sent before the baseline step2 carry a fragment, not the whole state: they count
    // toward `n` (the relay counts them too) but prove nothing about the whole state.
    if (this.baseline) this.unacked.push([n, version])
    return n
  }

  /**
   * Applies `ACK(n, copies)`. Returns true when the coverage changed. ACKs for frames never sent
   * on this socket are ignored: they cannot be about this socket.
   */
  ack(n: number, copies: number): boolean {
    if (n > this.sent || n < this.lastAckN) return false
    if (n > this.lastAckN) {
      this.lastAckN = n
      while (this.unacked.length > 0 && this.unacked[0]![0] <= n) {
        const [, version] = this.unacked.shift()!
        if (version > this.lastAckVersion) this.lastAckVersion = version
      }
    }
    if (this.lastAckVersion < 0 || copies < 1) return false
    return this.cover(this.lastAckVersion, copies)
  }

  private cover(version: number, copies: number): boolean {
    if (this.coverage.some((c) => c.version >= version && c.copies >= copies)) return false
    this.coverage = this.coverage.filter((c) => !(c.version <= version && c.copies <= copies))
    this.coverage.push({ version, copies })
    return true
  }

  /** Relay stores (this relay included) known to durably hold local version `version`; 0 if none. */
  copiesAt(version: number): number {
    let best = 0
    for (const c of this.coverage) if (c.version >= version && c.copies > best) best = c.copies
    return best
  }

  /** Forgets the socket: frame numbers restart and nothing counts until the next socket is acknowledged. */
  reset(): void {
    this.sent = 0
    this.baseline = false
    this.unacked = []
    this.lastAckN = 0
    this.lastAckVersion = -1
    this.coverage = []
  }
}

/**
 * Copies of local version `version` across relays: the larger of the best single relay's `copies`
 * (which counts the stores of its mesh) and the number of relays that each hold it. Both are lower
 * bounds on distinct stores, whether or not the relays replicate with each other.
 */
export function combinedCopies(trackers: Iterable<DurabilityTracker>, version: number): number {
  let best = 0
  let holders = 0
  for (const t of trackers) {
    const c = t.copiesAt(version)
    if (c > 0) holders++
    if (c > best) best = c
  }
  return Math.max(best, holders)
}
