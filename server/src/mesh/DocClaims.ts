/** How another link's fetch of a document ended: the digest it stored, or null when unknown. */
export type ClaimOutcome = string | null

/**
 * Which link fetches which document this relay never held, so that a relay refilling from several
 * peers at once fetches each document once: a link claims documents just before it asks for them,
 * so links that are ready share the work; the other links wait for that fetch and compare the
 * digest it stored with their peer's. How recent fetches ended is kept until no claim is open, so a
 * link that reaches a document just after another stored it does not fetch it again.
 */
export class DocClaims {
  readonly #open = new Map<
    string,
    { owner: object; done: Promise<ClaimOutcome>; end: (d: ClaimOutcome) => void }
  >()
  readonly #ended = new Map<string, ClaimOutcome>()

  /**
   * Claims `name` for `owner`: true when it is now (or already was) the owner's to fetch; the digest
   * another fetch of it stored when that ended already; else a promise of how that fetch ends.
   */
  claim(name: string, owner: object): true | string | Promise<ClaimOutcome> {
    const open = this.#open.get(name)
    if (open !== undefined) return open.owner === owner ? true : open.done
    const ended = this.#ended.get(name)
    if (ended !== undefined && ended !== null) return ended
    let end!: (d: ClaimOutcome) => void
    const done = new Promise<ClaimOutcome>((resolve) => {
      end = resolve
    })
    this.#open.set(name, { owner, done, end })
    return true
  }

  /** Ends the claim on `name`: stored with `digest`, or given up (null: the others compare themselves). */
  release(name: string, digest: ClaimOutcome = null): void {
    const open = this.#open.get(name)
    if (open === undefined) return
    this.#open.delete(name)
    if (digest !== null) this.#ended.set(name, digest)
    open.end(digest)
    if (this.#open.size === 0) this.#ended.clear()
  }

  /** Ends every claim of `owner` (its link closed). */
  releaseAll(owner: object): void {
    for (const [name, open] of this.#open) if (open.owner === owner) this.release(name)
  }
}
