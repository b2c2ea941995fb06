/**
 * The relay's budget of whole-document fetches in flight, shared by all its links: enough to keep
 * the store busy while peers read and send, and no more however many peers a refill draws from
 * (each answer holds up to a frame of records in memory until it is stored).
 */
export class FetchSlots {
  #free: number
  readonly #held = new Map<object, number>()
  readonly #waiting = new Map<object, () => void>()

  constructor(slots: number) {
    this.#free = slots
  }

  /** Takes a slot for `owner`; when none is free, `wake` is called once one is (then take again). */
  take(owner: object, wake: () => void): boolean {
    if (this.#free === 0) {
      this.#waiting.set(owner, wake)
      return false
    }
    this.#free--
    this.#held.set(owner, (this.#held.get(owner) ?? 0) + 1)
    return true
  }

  /** Returns one slot of `owner` (its fetch was answered). */
  give(owner: object): void {
    const held = this.#held.get(owner) ?? 0
    if (held === 0) return
    if (held === 1) this.#held.delete(owner)
    else this.#held.set(owner, held - 1)
    this.#free++
    this.#wake()
  }

  /** Returns every slot of `owner` (its link closed). */
  giveAll(owner: object): void {
    this.#waiting.delete(owner)
    const held = this.#held.get(owner) ?? 0
    this.#held.delete(owner)
    this.#free += held
    if (held > 0) this.#wake()
  }

  #wake(): void {
    const waiting = [...this.#waiting.values()]
    this.#waiting.clear()
    for (const wake of waiting) wake()
  }
}
