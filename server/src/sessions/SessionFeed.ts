import { compileDocPattern } from '@rhizome/protocol'
import { literalPrefix } from './sessionPatterns.js'

interface PatternEntry<S> {
  subscriber: S
  pattern: string
  matches: (name: string) => boolean
}

/**
 * Which subscribers (device sessions) want the live updates of a document: by pattern, or by
 * exact name (documents a device opened or synced explicitly).
 *
 * Matching must stay cheap with many sessions and many documents, so patterns are indexed by the
 * part of their literal prefix that ends at a `/` (`users/ann/**` under `users/ann/`, `notes/x*`
 * under `notes/`). For a name, only the buckets of its own `/`-prefixes are looked at (one map
 * lookup per segment) and only the patterns found there are tested. Patterns without a wildcard
 * are exact names.
 */
export class SessionFeed<S> {
  readonly #exact = new Map<string, Set<S>>()
  readonly #buckets = new Map<string, PatternEntry<S>[]>()
  /** What each subscriber registered, so that removing it touches only its own entries. */
  readonly #owned = new Map<S, { exact: Set<string>; patterns: PatternEntry<S>[] }>()

  #own(subscriber: S) {
    let owned = this.#owned.get(subscriber)
    if (!owned) {
      owned = { exact: new Set(), patterns: [] }
      this.#owned.set(subscriber, owned)
    }
    return owned
  }

  /** Subscribes to every document `pattern` (token syntax) matches; a repeated pattern is kept once. */
  addPattern(subscriber: S, pattern: string): void {
    if (!pattern.includes('*')) return this.addDoc(subscriber, pattern)
    const owned = this.#own(subscriber)
    if (owned.patterns.some((e) => e.pattern === pattern)) return
    const key = bucketOf(pattern)
    const entry = { subscriber, pattern, matches: compileDocPattern(pattern) }
    owned.patterns.push(entry)
    const bucket = this.#buckets.get(key)
    if (bucket) bucket.push(entry)
    else this.#buckets.set(key, [entry])
  }

  /** Subscribes to one document by name. */
  addDoc(subscriber: S, name: string): void {
    const owned = this.#own(subscriber)
    if (owned.exact.has(name)) return
    owned.exact.add(name)
    const set = this.#exact.get(name)
    if (set) set.add(subscriber)
    else this.#exact.set(name, new Set([subscriber]))
  }

  /** True when `subscriber` gets the updates of `name` (by pattern or by name). */
  has(subscriber: S, name: string): boolean {
    const owned = this.#owned.get(subscriber)
    if (!owned) return false
    return owned.exact.has(name) || owned.patterns.some((e) => e.matches(name))
  }

  /** Drops every subscription of `subscriber`. */
  remove(subscriber: S): void {
    const owned = this.#owned.get(subscriber)
    if (!owned) return
    this.#owned.delete(subscriber)
    for (const name of owned.exact) {
      const set = this.#exact.get(name)
      set?.delete(subscriber)
      if (set?.size === 0) this.#exact.delete(name)
    }
    for (const entry of owned.patterns) {
      const key = bucketOf(entry.pattern)
      const left = (this.#buckets.get(key) ?? []).filter((e) => e !== entry)
      if (left.length > 0) this.#buckets.set(key, left)
      else this.#buckets.delete(key)
    }
  }

  /** Every subscriber that wants the updates of `name`, each once. */
  subscribersOf(name: string): Set<S> {
    const out = new Set<S>(this.#exact.get(name))
    if (this.#buckets.size === 0) return out
    const test = (key: string) => {
      const bucket = this.#buckets.get(key)
      if (!bucket) return
      for (const e of bucket) if (!out.has(e.subscriber) && e.matches(name)) out.add(e.subscriber)
    }
    test('')
    for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) test(name.slice(0, i + 1))
    return out
  }

  /** Number of subscribers. */
  get size(): number {
    return this.#owned.size
  }
}

/** The bucket of a wildcard pattern: its literal prefix cut after the last `/` (maybe empty). */
function bucketOf(pattern: string): string {
  const prefix = literalPrefix(pattern)
  return prefix.slice(0, prefix.lastIndexOf('/') + 1)
}
