/**
 * The ACK numbering of one session, per document (docs/PROTOCOL.md section 7.2, spec step 7): the
 * relay counts the `sync` step2 and update frames it receives for each document on the session
 * (1, 2, ...) and answers `ack {doc, n, copies}`. This keeps the device's side of that count, the
 * highest `n` acknowledged, the documents the relay refused, and waits for "everything sent so far
 * is acknowledged" (the condition for saving a local checkpoint).
 */
export class SessionFrames {
  readonly #sent = new Map<string, number>()
  readonly #acked = new Map<string, number>()
  readonly #refused = new Set<string>()
  readonly #watchers = new Set<{ pending: Map<string, number>; resolve: () => void }>()

  /** Counts one more step2/update frame of `doc`; returns its number `n`. */
  count(doc: string): number {
    const n = (this.#sent.get(doc) ?? 0) + 1
    this.#sent.set(doc, n)
    return n
  }

  /** Frames of `doc` counted so far on this session. */
  sentOf(doc: string): number {
    return this.#sent.get(doc) ?? 0
  }

  /** Records `ack {doc, n}`. An ACK for frames never sent is ignored (it cannot be about us). */
  ack(doc: string, n: number): void {
    if (n > this.sentOf(doc) || n <= (this.#acked.get(doc) ?? 0)) return
    this.#acked.set(doc, n)
    for (const w of this.#watchers) {
      const need = w.pending.get(doc)
      if (need !== undefined && n >= need) this.#settle(w, doc)
    }
  }

  /** The relay refused `doc` on this session: it ignores its frames from now on. */
  refuse(doc: string): void {
    this.#refused.add(doc)
    for (const w of this.#watchers) if (w.pending.has(doc)) this.#settle(w, doc)
  }

  /** True when the relay refused `doc` on this session. */
  isRefused(doc: string): boolean {
    return this.#refused.has(doc)
  }

  /** Resolves once every frame counted so far is acknowledged (or its document refused). */
  whenAllAcked(): Promise<void> {
    const pending = new Map<string, number>()
    for (const [doc, n] of this.#sent) {
      if (!this.#refused.has(doc) && (this.#acked.get(doc) ?? 0) < n) pending.set(doc, n)
    }
    if (pending.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#watchers.add({ pending, resolve }))
  }

  /** Drops every waiter without resolving it (the session is gone; its frames will never be acknowledged). */
  abandon(): void {
    this.#watchers.clear()
  }

  #settle(w: { pending: Map<string, number>; resolve: () => void }, doc: string): void {
    w.pending.delete(doc)
    if (w.pending.size === 0) {
      this.#watchers.delete(w)
      w.resolve()
    }
  }
}
