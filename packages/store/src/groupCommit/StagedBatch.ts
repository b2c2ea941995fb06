import type { AbstractBatchOperation } from 'abstract-level'
import { encodeChecked } from '../checksum.js'
import { metaKey, repairKey } from '../keys.js'
import type { MetaCache, MetaEntry } from '../MetaCache.js'
import { encodeMetaRecord } from '../meta.js'
import type { AnyLevel } from '../records.js'

/** One batch operation with string keys and byte values. */
export type RawOperation = AbstractBatchOperation<AnyLevel, string, Uint8Array>

/** Loads committed meta records that are not cached. Returns `null` for unknown documents. */
export type MetaLoader = (
  names: readonly string[],
  batch: StagedBatch,
) => Promise<Map<string, MetaEntry | null>>

/**
 * The writes of one group commit while it is being assembled. Jobs run one after another against
 * it; meta changes are staged on copies, so a job sees the effect of the jobs before it, and the
 * cache only learns them (through {@link StagedBatch.install}) once the batch is durable.
 */
export class StagedBatch {
  readonly #ops: RawOperation[] = []
  readonly #cache: MetaCache
  readonly #load: MetaLoader
  readonly #staged = new Map<string, MetaEntry | null>()
  readonly #dirty = new Set<string>()
  /** Documents that get their first meta record in this batch. */
  readonly created = new Set<string>()
  /** Documents whose repair marker this batch writes. */
  readonly markedCorrupt = new Set<string>()
  /** Documents whose repair marker this batch deletes. */
  readonly repaired = new Set<string>()
  /** Documents that received log records in this batch. */
  readonly appended = new Set<string>()
  /** Documents whose content this batch changes (appends, repairs): each gets a new change seq. */
  readonly changedContent = new Set<string>()
  /**
   * Changes that need a change sequence number of their own rather than the document's content
   * number (tombstones): called with it once the content changes of the batch got theirs.
   */
  readonly changeClaims = new Map<string, (seq: number) => void | Promise<void>>()
  /** Documents stored before this batch whose meta record it deletes (purged). */
  readonly dropped = new Set<string>()

  /**
   * @param cache - committed meta records; read, never written, until {@link install}.
   * @param load - reads meta records the cache lacks.
   */
  constructor(cache: MetaCache, load: MetaLoader) {
    this.#cache = cache
    this.#load = load
  }

  /** Loads, in one round trip, the meta records of all `names` not yet staged or cached. */
  async prefetch(names: Iterable<string>): Promise<void> {
    const missing: string[] = []
    for (const name of names) {
      if (this.#staged.has(name)) continue
      const cached = this.#cache.get(name)
      if (cached !== undefined) this.#staged.set(name, copy(cached))
      else missing.push(name)
    }
    if (missing.length === 0) return
    const loaded = await this.#load(missing, this)
    for (const name of missing) if (!this.#staged.has(name)) this.#staged.set(name, loaded.get(name) ?? null)
  }

  /** The staged (mutable) meta entry of a document, or `null` if the document does not exist yet. */
  async meta(name: string): Promise<MetaEntry | null> {
    if (!this.#staged.has(name)) await this.prefetch([name])
    return this.#staged.get(name) ?? null
  }

  /** Stages a new, empty document (call only after {@link meta} returned `null`). */
  create(name: string, entry: MetaEntry): MetaEntry {
    this.#staged.set(name, entry)
    this.created.add(name)
    this.#dirty.add(name)
    return entry
  }

  /**
   * Deletes the document's meta record with this batch (the caller deletes its other records); a
   * later job of the batch that appends to it creates it anew.
   */
  drop(name: string): void {
    if (this.created.delete(name)) this.#dirty.delete(name)
    else if (this.#staged.get(name)) this.dropped.add(name)
    this.#staged.set(name, null)
    this.#dirty.delete(name)
    this.del(metaKey(name))
  }

  /** Marks a staged meta entry as changed, so that it is written with the batch. */
  touch(name: string): void {
    if (!this.#staged.get(name)) throw new Error(`no staged meta for ${name}`)
    this.#dirty.add(name)
  }

  /** Adds a put of an already checksummed value. */
  put(key: string, value: Uint8Array): void {
    // Formats named as abstract-level names them for its implementations (see `writeSyncBatch`).
    this.#ops.push({ type: 'put', key, value, keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  /** Adds a delete. */
  del(key: string): void {
    this.#ops.push({ type: 'del', key, keyEncoding: 'utf8' })
  }

  /** Writes the document's repair marker with this batch. */
  markCorrupt(name: string, reason: string): void {
    const key = repairKey(name)
    this.repaired.delete(name)
    this.markedCorrupt.add(name)
    this.put(key, encodeChecked(key, new TextEncoder().encode(reason)))
  }

  /** Deletes the document's repair marker with this batch. */
  clearCorrupt(name: string): void {
    this.markedCorrupt.delete(name)
    this.repaired.add(name)
    this.del(repairKey(name))
  }

  /** All operations of the batch, ending with the changed meta records. */
  operations(): RawOperation[] {
    const ops = this.#ops.slice()
    for (const name of this.#dirty) {
      const entry = this.#staged.get(name)
      if (!entry) continue
      const key = metaKey(name)
      ops.push({ type: 'put', key, value: encodeMetaRecord(key, entry.meta) })
    }
    return ops
  }

  /** Names of documents whose meta changed. */
  get changed(): ReadonlySet<string> {
    return this.#dirty
  }

  /** After the batch is durable: makes the changed meta records the committed ones. */
  install(): void {
    for (const name of this.dropped) if (!this.#dirty.has(name)) this.#cache.delete(name)
    for (const name of this.#dirty) {
      const entry = this.#staged.get(name)
      if (entry) this.#cache.set(name, entry)
    }
  }
}

function copy(entry: MetaEntry): MetaEntry {
  return { meta: { ...entry.meta }, gen: entry.gen }
}
