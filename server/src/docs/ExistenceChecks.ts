import type { DocStore } from '@rhizome/store'

interface Waiting {
  name: string
  resolve: (exists: boolean) => void
  reject: (err: unknown) => void
}

/** Lookups answered by one store call at most. */
const MAX_BATCH = 4096

/**
 * "Is this document stored?" for many documents at once: lookups asked during one turn of the
 * event loop are answered together by one `DocStore.hasMany` (one LevelDB `getMany`) on the next
 * turn. A device refilling a wiped relay sends thousands of documents in a few socket reads, and
 * one LevelDB `get` per document was the largest single cost of the relay's refill.
 */
export class ExistenceChecks {
  #waiting: Waiting[] = []
  #scheduled = false

  constructor(private readonly store: DocStore) {}

  /**
   * Resolves with `DocStore.has(name)` as of a moment after this call.
   * @throws RhizomeError STORE_CLOSED, TypeError for an invalid name: as `DocStore.hasMany`.
   */
  has(name: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ name, resolve, reject })
      if (this.#scheduled) return
      this.#scheduled = true
      setImmediate(() => this.#flush())
    })
  }

  #flush(): void {
    this.#scheduled = false
    const all = this.#waiting
    this.#waiting = []
    for (let at = 0; at < all.length; at += MAX_BATCH) void this.#answer(all.slice(at, at + MAX_BATCH))
  }

  async #answer(batch: Waiting[]): Promise<void> {
    let found: boolean[]
    try {
      found = await this.store.hasMany(batch.map((w) => w.name))
    } catch {
      // One bad name must not fail the others: ask one by one.
      for (const w of batch) this.store.has(w.name).then(w.resolve, w.reject)
      return
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(found[i]!)
  }
}
