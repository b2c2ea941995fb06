/**
 * Per document, the commits a fresh load must wait for. When an in-memory copy is dropped while
 * appends it issued are still in the store's group commit, a load started at once would read the
 * store without them and serve (and build on) a state older than what was already acknowledged
 * or forwarded.
 */
export class ReloadBarrier {
  readonly #waits = new Map<string, Promise<void>>()

  /** Loads of `name` wait for `commits` (fulfilled or not) from now on. */
  add(name: string, commits: Promise<unknown>): void {
    const previous = this.#waits.get(name)
    const settled = Promise.all([previous, commits.catch(() => {})]).then(() => {})
    this.#waits.set(name, settled)
    void settled.then(() => {
      if (this.#waits.get(name) === settled) this.#waits.delete(name)
    })
  }

  /** What a load of `name` must await first, or undefined when nothing is in flight. */
  wait(name: string): Promise<void> | undefined {
    return this.#waits.get(name)
  }
}
