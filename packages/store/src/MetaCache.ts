import type { DocMeta } from './meta.js'

/** A cached meta record plus its generation, which changes whenever the document's state changes. */
export interface MetaEntry {
  meta: DocMeta
  /** Process-wide unique number; a new one is assigned on every state change and on every load. */
  gen: number
}

/**
 * Bounded LRU cache of meta records. Holds the committed meta of documents recently touched; group
 * commits install their staged records here after the batch is durable.
 *
 * Reads outside the commit path may only add an entry that is absent. To keep a slow outside read
 * from reinstalling a record a commit has replaced meanwhile, nothing is evicted while such a
 * read is in flight (see {@link MetaCache.beginLoad}); the cache may briefly exceed its bound.
 */
export class MetaCache {
  readonly #entries = new Map<string, MetaEntry>()
  readonly #max: number
  #loads = 0
  /** Entries deleted while outside reads were in flight: those reads must not reinstall them. */
  readonly #deleted = new Set<string>()

  /** @param max - entries kept before the least recently used ones are evicted. */
  constructor(max: number) {
    this.#max = Math.max(1, max)
  }

  /** Number of cached entries. */
  get size(): number {
    return this.#entries.size
  }

  /** The cached entry, marked most recently used. */
  get(name: string): MetaEntry | undefined {
    const entry = this.#entries.get(name)
    if (entry !== undefined) {
      this.#entries.delete(name)
      this.#entries.set(name, entry)
    }
    return entry
  }

  /** True when an entry is cached. Does not change recency. */
  has(name: string): boolean {
    return this.#entries.has(name)
  }

  /** Installs a committed entry (replacing any older one). */
  set(name: string, entry: MetaEntry): void {
    this.#entries.delete(name)
    this.#entries.set(name, entry)
    this.#evict()
  }

  /** Installs `entry` only when nothing is cached for `name`; returns whatever is cached afterwards. */
  setIfAbsent(name: string, entry: MetaEntry): MetaEntry {
    const current = this.get(name)
    if (current !== undefined) return current
    // A read that began before the document was deleted must not bring its meta back.
    if (this.#deleted.has(name)) return entry
    this.set(name, entry)
    return entry
  }

  /** Forgets a document whose meta record a commit deleted. */
  delete(name: string): void {
    this.#entries.delete(name)
    if (this.#loads > 0) this.#deleted.add(name)
  }

  /** Announces a database read whose result may be installed with {@link setIfAbsent}; call the returned function when it ends. */
  beginLoad(): () => void {
    this.#loads++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#loads--
      if (this.#loads === 0) this.#deleted.clear()
      this.#evict()
    }
  }

  #evict(): void {
    if (this.#loads > 0) return
    for (const name of this.#entries.keys()) {
      if (this.#entries.size <= this.#max) break
      this.#entries.delete(name)
    }
  }
}
