/**
 * One lock per document name, shared by every session of a replica: while one relay's round asks
 * for a document (step1, waiting for the answer), another relay's round waits before it compares
 * its digest for that document. A device that joins a mesh of three relays so downloads each
 * document once, not three times in parallel (and then sees the other relays' digests match).
 */
export class DocLocks {
  readonly #held = new Map<string, Promise<void>>()

  /** Waits for the current holder of `name`, then holds it; call the returned function to release. */
  async acquire(name: string): Promise<() => void> {
    for (;;) {
      const held = this.#held.get(name)
      if (held === undefined) break
      await held
    }
    let release!: () => void
    const done = new Promise<void>((resolve) => {
      release = resolve
    })
    this.#held.set(name, done)
    let released = false
    return () => {
      if (released) return
      released = true
      if (this.#held.get(name) === done) this.#held.delete(name)
      release()
    }
  }
}
