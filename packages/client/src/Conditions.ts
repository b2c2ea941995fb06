/**
 * Waits for conditions over state that changes by events: `until(ready)` resolves true once
 * `ready()` holds at a `notify()` (or at once), false once closed. For waits across reconnects
 * (a session's `whenCaughtUp`), where no single event says "now".
 */
export class Conditions {
  readonly #checks = new Set<() => void>()
  #closed = false

  /** Resolves true once `ready()` is true when checked (now, or at a later {@link notify}); false once closed. */
  until(ready: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.#closed) resolve(false)
        else if (ready()) resolve(true)
        else return
        this.#checks.delete(check)
      }
      this.#checks.add(check)
      check()
    })
  }

  /** Something changed: checks every waiting condition. */
  notify(): void {
    for (const check of [...this.#checks]) check()
  }

  /** Every wait resolves false, now and later. */
  close(): void {
    this.#closed = true
    this.notify()
  }
}
