/**
 * Which link fetches which document this relay never held, so that a relay refilling from several
 * peers at once fetches each document once, from whichever link reached it first; the other links
 * wait for that fetch and then compare digests as for any held document.
 */
export class DocClaims {
  readonly #claims = new Map<string, { owner: object; done: Promise<void>; release: () => void }>()

  /**
   * Claims `name` for `owner`: true when it is now (or already was) the owner's to fetch; else the
   * promise that settles once the other owner's fetch ended (stored, given up, or its link closed).
   */
  claim(name: string, owner: object): true | Promise<void> {
    const held = this.#claims.get(name)
    if (held !== undefined) return held.owner === owner ? true : held.done
    let release!: () => void
    const done = new Promise<void>((resolve) => {
      release = resolve
    })
    this.#claims.set(name, { owner, done, release })
    return true
  }

  /** Ends the claim on `name` (its fetch ended, whatever the outcome). */
  release(name: string): void {
    const held = this.#claims.get(name)
    if (held === undefined) return
    this.#claims.delete(name)
    held.release()
  }

  /** Ends every claim of `owner` (its link closed). */
  releaseAll(owner: object): void {
    for (const [name, held] of this.#claims) if (held.owner === owner) this.release(name)
  }
}
