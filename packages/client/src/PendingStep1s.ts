/**
 * The step1s a session sent that the relay has not answered yet. The relay answers each step1 with
 * a step2 of the same document, in order (docs/PROTOCOL.md section 7.2, step 4), so an answer
 * settles the oldest open step1 of its document; a refusal settles all of them. Each step1 gets an
 * increasing index: a checkpoint may be saved only once every step1 sent before it is answered.
 */
export class PendingStep1s {
  readonly #open = new Map<number, string>()
  readonly #byDoc = new Map<string, Array<{ index: number; resolve: () => void }>>()
  #last = 0

  /** The index of the latest step1 (0 before any). */
  get lastIndex(): number {
    return this.#last
  }

  /** The index of the oldest step1 not answered yet, or null when none is open. */
  get oldest(): number | null {
    const first = this.#open.keys().next()
    return first.done ? null : first.value
  }

  /** Registers a step1 of `doc` about to be sent; the promise resolves when it is answered. */
  add(doc: string): Promise<void> {
    const index = ++this.#last
    return new Promise<void>((resolve) => {
      let waiters = this.#byDoc.get(doc)
      if (waiters === undefined) {
        waiters = []
        this.#byDoc.set(doc, waiters)
      }
      waiters.push({ index, resolve })
      this.#open.set(index, doc)
    })
  }

  /** A step2 of `doc` answered its oldest open step1 (`all`: a refusal settles every one). */
  answered(doc: string, all: boolean): void {
    const waiters = this.#byDoc.get(doc)
    if (waiters === undefined) return
    for (const w of all ? waiters.splice(0) : waiters.splice(0, 1)) {
      this.#open.delete(w.index)
      w.resolve()
    }
    if (waiters.length === 0) this.#byDoc.delete(doc)
  }

  /** The socket is gone: every open step1 settles (nobody waits for an answer that cannot come). */
  clear(): void {
    for (const waiters of this.#byDoc.values()) for (const w of waiters) w.resolve()
    this.#byDoc.clear()
    this.#open.clear()
  }
}
