import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'

/**
 * The local store writes of one document's updates: which are durable (every append up to
 * {@link done} is, whatever order the store finished them in) and the first failure.
 */
export class LocalAppends {
  readonly #store: DocStore
  readonly #name: string
  readonly #changed: () => void
  readonly #failed: (error: RhizomeError) => void
  readonly #pending = new Set<Promise<void>>()
  /** Appends issued so far; append i is number i (from 1). */
  #issued = 0
  /** Every append up to this number is durable in the local store. */
  #done = 0
  readonly #doneOutOfOrder = new Set<number>()
  #error: RhizomeError | null = null

  /**
   * `changed` is called after every append settles; `failed` (before `changed`) with the error of
   * each one that failed, as a RhizomeError (STORE_CLOSED unless the store threw a RhizomeError).
   */
  constructor(store: DocStore, name: string, changed: () => void, failed: (error: RhizomeError) => void) {
    this.#store = store
    this.#name = name
    this.#changed = changed
    this.#failed = failed
  }

  /** The number of appends issued so far (the number of the last one). */
  get issued(): number {
    return this.#issued
  }

  /** Every append up to this number is durable in the local store. */
  get done(): number {
    return this.#done
  }

  /** The error of the last failed append, or `null`. */
  get error(): RhizomeError | null {
    return this.#error
  }

  /** Appends `update` to the store; never throws or rejects (see the constructor). */
  append(update: Uint8Array): void {
    const seq = ++this.#issued
    const append = this.#store.append(this.#name, update)
    this.#pending.add(append)
    append.then(
      () => {
        this.#pending.delete(append)
        this.#doneOutOfOrder.add(seq)
        while (this.#doneOutOfOrder.delete(this.#done + 1)) this.#done++
        this.#changed()
      },
      (cause) => {
        this.#pending.delete(append)
        this.#error =
          cause instanceof RhizomeError
            ? cause
            : new RhizomeError(ErrorCode.STORE_CLOSED, `local write of ${this.#name} failed`, { cause })
        this.#failed(this.#error)
        this.#changed()
      },
    )
  }

  /** Resolves once every append issued so far settled (succeeded or failed). Never rejects. */
  settled(): Promise<void> {
    return Promise.allSettled([...this.#pending]).then(() => {})
  }
}
