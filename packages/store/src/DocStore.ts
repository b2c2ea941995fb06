import { digestOfDoc, ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { AbstractBatchOptions } from 'abstract-level'
import * as Y from 'yjs'
import { decodeChecked, encodeChecked } from './checksum.js'
import { CommitQueue } from './groupCommit/CommitQueue.js'
import { StagedBatch } from './groupCommit/StagedBatch.js'
import {
  checkDocName,
  docRange,
  logKey,
  metaKey,
  metaRange,
  nameOfMetaKey,
  nameOfRepairKey,
  repairRange,
  STORE_ID_KEY,
  snapshotKey,
} from './keys.js'
import { MetaCache, type MetaEntry } from './MetaCache.js'
import { type DocMeta, decodeMeta, emptyMeta, encodeMeta } from './meta.js'
import { type AnyLevel, type DocRecords, RAW, readDocRecords, rebuildMeta } from './records.js'
import { applyRecords, corruptError, mergeRecords, scratchDoc, validateUpdate } from './replica.js'

/** Options of {@link DocStore.open}. */
export interface DocStoreOptions {
  /** Compact a document in the background once its log holds this many records. Default 500. */
  compactAfterUpdates?: number
  /** Compact a document in the background once its log holds this many payload bytes. Default 1 MiB. */
  compactAfterBytes?: number
  /** Metrics hook, called after each group commit with its duration, job count and distinct documents. */
  onCommit?: (info: { ms: number; ops: number; docs: number }) => void
  /**
   * Called with failures of background work (automatic compaction, digest write-back) that no caller
   * awaits. Default: `console.warn`. Corruption found there is also persisted as a repair marker.
   */
  onError?: (err: unknown) => void
  /** Meta records kept in memory (LRU). Default 10,000. */
  metaCacheSize?: number
  /**
   * Drop every cached digest and state vector at open, so each is recomputed from the records
   * themselves. For a database that was just repaired at the LevelDB level: records may have been
   * lost without a checksum noticing, and a cached digest would then claim state the store no
   * longer holds (anti-entropy would never re-fetch it).
   */
  distrustDigests?: boolean
}

/** Options of {@link DocStore.append}. */
export interface AppendOptions {
  /**
   * The update was produced or fully decoded by Yjs already (for example the `update` event of a
   * Y.Doc that applied it): skip decoding it once more to validate it.
   */
  decoded?: boolean
}

/** One document as listed by {@link DocStore.catalog}. */
export interface CatalogEntry {
  name: string
  /** Replica digest (see `digestOfDoc`), `null` when the document is corrupt. */
  digest: string | null
  /** Stored payload bytes: snapshot plus log. */
  bytes: number
  /** Log records not yet compacted. */
  updates: number
  /** The document needs repair from a peer. */
  corrupt: boolean
}

/** One unit of work of a group commit. */
interface Job {
  name: string
  run(batch: StagedBatch): void | Promise<void>
}

const DEFAULT_COMPACT_UPDATES = 500
const DEFAULT_COMPACT_BYTES = 1024 * 1024
/**
 * Log records one compaction merges. A burst can append faster than a whole-log merge runs; merging
 * in bounded slices keeps each compaction short, so the log never runs away from it.
 */
const COMPACT_SLICE = 20_000
/** Deleted log records of one document after which LevelDB is asked to compact its key range. */
const TOMBSTONES_BEFORE_RANGE_COMPACTION = 50_000
const CATALOG_PAGE = 256
// `sync` is a classic-level option (fsync before resolving); other backends ignore it.
const SYNC_BATCH = { ...RAW, sync: true } as AbstractBatchOptions<string, Uint8Array>
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes))
  let out = ''
  for (const b of buf) out += b.toString(16).padStart(2, '0')
  return out
}

/**
 * Durable store of Yjs documents over any abstract-level database: per document an append-only
 * log of updates plus a compacted snapshot and a meta record, every value checksummed.
 *
 * Appends from all documents are group-committed: while one `batch()` (with `sync: true`) is in
 * flight, new appends queue and go into the next single batch; an append resolves only once its
 * batch is durable. Compaction, repair and digest write-back go through the same queue, so the
 * meta records stay exact. A record that fails its checksum makes reads of its document throw
 * `STORE_CORRUPT` and persists a repair marker until {@link DocStore.repair} rewrites it.
 */
export class DocStore {
  /** Store identity, generated on first open; a new or wiped database gets a new one. */
  readonly id: string
  readonly #db: AnyLevel
  /**
   * Prefix of this open's log keys. Time-ordered, so the records of a later open sort after those of
   * earlier ones and a compaction can resume after the last key it deleted (see #compactHint).
   */
  readonly #session = Date.now().toString(36).padStart(10, '0') + randomHex(3)
  /**
   * Per document, the last log key a compaction deleted. Every log key before it is gone, so the next
   * slice starts after it instead of scanning LevelDB's tombstones of everything compacted before.
   */
  readonly #compactHint = new Map<string, string>()
  /** Log records deleted per document since LevelDB last compacted its key range. */
  readonly #tombstones = new Map<string, number>()
  #counter = 0
  #gen = 0
  #docCount: number
  readonly #cache: MetaCache
  readonly #corrupt: Set<string>
  readonly #queue: CommitQueue<Job>
  readonly #compactUpdates: number
  readonly #compactBytes: number
  readonly #onCommit: DocStoreOptions['onCommit']
  readonly #onError: (err: unknown) => void
  /** Per-document tail of compactions and repairs, which must not overlap for one document. */
  readonly #exclusive = new Map<string, Promise<void>>()
  readonly #compacting = new Set<string>()
  readonly #background = new Set<Promise<unknown>>()
  #closed = false
  #closing: Promise<void> | null = null

  private constructor(
    db: AnyLevel,
    id: string,
    docCount: number,
    corrupt: Set<string>,
    options: DocStoreOptions,
  ) {
    this.#db = db
    this.id = id
    this.#docCount = docCount
    this.#corrupt = corrupt
    this.#cache = new MetaCache(options.metaCacheSize ?? 10_000)
    this.#compactUpdates = options.compactAfterUpdates ?? DEFAULT_COMPACT_UPDATES
    this.#compactBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES
    this.#onCommit = options.onCommit
    this.#onError = options.onError ?? ((err) => console.warn('rhizome store:', err))
    this.#queue = new CommitQueue((jobs) => this.#commit(jobs))
  }

  /**
   * Opens a store over `db` (calling `db.open()` if needed). Keys are written as UTF-8 strings and
   * values as bytes with per-call encodings, so any default encodings of `db` work. Counts the
   * documents and loads the repair markers once; generates and persists a store id on first open.
   */
  static async open(db: AnyLevel, options: DocStoreOptions = {}): Promise<DocStore> {
    await db.open()
    let id: string | null = null
    const raw = await db.get<string, Uint8Array>(STORE_ID_KEY, RAW)
    if (raw !== undefined) {
      const payload = decodeChecked(STORE_ID_KEY, raw)
      if (payload !== null) id = utf8Decoder.decode(payload)
    }
    if (id === null) {
      // A missing or damaged id means we cannot claim to be the store peers knew: start a new identity.
      id = randomHex(16)
      await db.batch<string, Uint8Array>(
        [{ type: 'put', key: STORE_ID_KEY, value: encodeChecked(STORE_ID_KEY, utf8.encode(id)) }],
        SYNC_BATCH,
      )
    }
    if (options.distrustDigests) await forgetDigests(db)
    let docCount = 0
    for await (const _ of db.keys<string>({ ...metaRange(), keyEncoding: 'utf8' })) docCount++
    const corrupt = new Set<string>()
    for await (const key of db.keys<string>({ ...repairRange(), keyEncoding: 'utf8' }))
      corrupt.add(nameOfRepairKey(key))
    return new DocStore(db, id, docCount, corrupt, options)
  }

  /** Number of documents stored. */
  get docCount(): number {
    return this.#docCount
  }

  /**
   * Appends one update to a document's log, creating the document if needed. Resolves once the
   * group commit containing it is durable.
   * @throws RhizomeError PROTOCOL_MALFORMED when `update` does not decode (nothing is stored).
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  async append(name: string, update: Uint8Array, options: AppendOptions = {}): Promise<void> {
    this.#assertOpen()
    checkDocName(name)
    if (!options.decoded) validateUpdate(update)
    const key = logKey(name, this.#session, this.#counter++)
    const value = encodeChecked(key, update)
    const bytes = update.length
    return this.#queue.enqueue({
      name,
      run: async (batch) => {
        const entry = (await batch.meta(name)) ?? batch.create(name, { meta: emptyMeta(), gen: 0 })
        batch.put(key, value)
        entry.meta.updates++
        entry.meta.logBytes += bytes
        entry.meta.digest = null
        entry.meta.stateVector = null
        entry.gen = ++this.#gen
        batch.touch(name)
        batch.appended.add(name)
      },
    })
  }

  /** True when the document exists (even if it is corrupt). */
  async has(name: string): Promise<boolean> {
    this.#assertOpen()
    checkDocName(name)
    if (this.#cache.has(name)) return true
    return (await this.#db.get<string, Uint8Array>(metaKey(name), RAW)) !== undefined
  }

  /**
   * Applies the document's snapshot and log to `doc` with `origin` (in transactions of bounded size).
   * A log found over the compaction threshold is compacted in the background afterwards.
   * @returns false when the document is unknown.
   * @throws RhizomeError STORE_CORRUPT (with `doc`) when any of its records fails its checksum or it awaits repair.
   */
  async loadInto(name: string, doc: Y.Doc, origin?: unknown): Promise<boolean> {
    const records = await this.#read(name)
    if (records === null) return false
    await this.#apply(name, doc, records, origin)
    this.#maybeCompact(name)
    return true
  }

  /**
   * The document's merged state as one update (`Y.encodeStateAsUpdate` of a doc with everything applied), or `null`.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async getUpdate(name: string): Promise<Uint8Array | null> {
    const records = await this.#read(name)
    if (records === null) return null
    // A snapshot is exactly such an encoding, so a compacted document needs no merge.
    if (records.logs.length === 0 && records.snapshot !== null) return records.snapshot.slice()
    const doc = scratchDoc()
    try {
      await this.#apply(name, doc, records)
      return Y.encodeStateAsUpdate(doc)
    } finally {
      doc.destroy()
    }
  }

  /**
   * The document's state vector, or `null` when unknown. Served from the meta record when fresh.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async getStateVector(name: string): Promise<Uint8Array | null> {
    const summary = await this.#summary(name)
    return summary === null ? null : summary.stateVector.slice()
  }

  /**
   * What `stateVector` lacks of the document (`Y.encodeStateAsUpdate(doc, stateVector)`), or `null` when unknown.
   * @throws RhizomeError PROTOCOL_MALFORMED when `stateVector` does not decode.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async diff(name: string, stateVector: Uint8Array): Promise<Uint8Array | null> {
    this.#assertOpen()
    try {
      Y.decodeStateVector(stateVector)
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'not a valid state vector', { cause })
    }
    const records = await this.#read(name)
    if (records === null) return null
    const doc = scratchDoc()
    try {
      await this.#apply(name, doc, records)
      return Y.encodeStateAsUpdate(doc, stateVector)
    } finally {
      doc.destroy()
    }
  }

  /**
   * The replica digest (`digestOfDoc`), or `null` when unknown. Cached in the meta record; after
   * appends it is recomputed on the next call and written back.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async getDigest(name: string): Promise<string | null> {
    return (await this.#summary(name))?.digest ?? null
  }

  /**
   * Resolves once the background work is done: compactions due (each slice schedules the next while
   * the log is over the threshold) and digest write-backs. `close()` instead stops scheduling new
   * compactions; call this first to leave every log compacted.
   */
  async settle(): Promise<void> {
    this.#assertOpen()
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
    await this.#queue.drain()
  }

  /**
   * Records the digest and state vector of the document's current state, computed by a caller that
   * holds exactly that state in memory (a relay evicting a loaded document), so that catalogs and
   * anti-entropy need not load it again. The caller must have applied, and awaited the appends of,
   * every update of this document. Jobs commit in order, so an append issued after this call clears
   * the digest again; a digest already cached is left alone.
   */
  noteDigest(name: string, digest: string, stateVector: Uint8Array): Promise<void> {
    this.#assertOpen()
    checkDocName(name)
    return this.#queue.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null || staged.meta.digest !== null || this.#corrupt.has(name)) return
        staged.meta.digest = digest
        staged.meta.stateVector = stateVector
        batch.touch(name)
      },
    })
  }

  /**
   * Catalog entry of one document, or `null` when unknown. A corrupt document yields `digest: null, corrupt: true`.
   */
  async info(name: string): Promise<CatalogEntry | null> {
    this.#assertOpen()
    checkDocName(name)
    const entry = await this.#metaEntry(name)
    if (entry === null) return null
    return this.#catalogEntry(name, entry.meta)
  }

  /**
   * All documents in name (byte) order, starting after `after`, at most `limit`. Streams in pages;
   * stale digests are computed one document at a time and written back. Corrupt documents yield
   * `digest: null, corrupt: true`.
   */
  async *catalog(options: { after?: string; limit?: number } = {}): AsyncIterable<CatalogEntry> {
    let cursor = options.after
    let remaining = options.limit ?? Number.POSITIVE_INFINITY
    while (remaining > 0) {
      this.#assertOpen()
      const limit = Math.min(CATALOG_PAGE, remaining)
      const page = await this.#db.iterator<string, Uint8Array>({ ...metaRange(cursor), limit, ...RAW }).all()
      for (const [key, value] of page) {
        const name = nameOfMetaKey(key)
        cursor = name
        remaining--
        const cached = this.#cache.get(name)
        let meta: DocMeta | null = cached?.meta ?? null
        if (meta === null) {
          const payload = decodeChecked(key, value)
          if (payload !== null) meta = decodeMeta(payload)
          else meta = (await this.#metaEntry(name))?.meta ?? emptyMeta()
        }
        yield await this.#catalogEntry(name, meta)
      }
      if (page.length < limit) return
    }
  }

  /**
   * Merges the document's snapshot and log into a new snapshot and deletes the merged log records,
   * in one atomic durable batch (a crash leaves the old or the new state). Appends that arrive
   * meanwhile are kept. No-op for unknown or already compact documents.
   * @throws RhizomeError STORE_CORRUPT when a record fails its checksum.
   */
  compact(name: string): Promise<void> {
    this.#assertOpen()
    checkDocName(name)
    return this.#track(this.#exclusively(name, () => this.#compactNow(name)))
  }

  /** True when the document awaits repair. */
  async isCorrupt(name: string): Promise<boolean> {
    this.#assertOpen()
    return this.#corrupt.has(name)
  }

  /** Names of documents marked as needing repair (persisted markers), in name order. */
  async *corruptDocs(): AsyncIterable<string> {
    this.#assertOpen()
    for await (const key of this.#db.keys<string>({ ...repairRange(), keyEncoding: 'utf8' })) {
      yield nameOfRepairKey(key)
    }
  }

  /**
   * Rewrites the document from its still-valid records merged with `update` (its state from a
   * healthy peer), drops the damaged records and clears the repair marker, in one atomic batch.
   * Also creates the document if it is unknown.
   * @throws RhizomeError PROTOCOL_MALFORMED when `update` does not decode.
   */
  repair(name: string, update: Uint8Array): Promise<void> {
    this.#assertOpen()
    checkDocName(name)
    validateUpdate(update)
    return this.#track(this.#exclusively(name, () => this.#repairNow(name, update)))
  }

  /** Resolves when every append issued so far is durable (or has failed). */
  async flush(): Promise<void> {
    this.#assertOpen()
    await this.#queue.drain()
  }

  /**
   * Waits for running compactions and repairs, flushes, then closes the database. Later calls of
   * other methods throw RhizomeError STORE_CLOSED; calling close again returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closed = true
      this.#closing = (async () => {
        while (this.#background.size > 0) await Promise.allSettled([...this.#background])
        await this.#queue.drain()
        await this.#db.close()
      })()
    }
    return this.#closing
  }

  #assertOpen(): void {
    if (this.#closed) throw new RhizomeError(ErrorCode.STORE_CLOSED, 'the store is closed')
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#background.add(work)
    const untrack = () => this.#background.delete(work)
    work.then(untrack, untrack)
    return work
  }

  #exclusively(name: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#exclusive.get(name) ?? Promise.resolve()
    const run = previous.then(fn)
    const tail = run.catch(() => {})
    this.#exclusive.set(name, tail)
    void tail.then(() => {
      if (this.#exclusive.get(name) === tail) this.#exclusive.delete(name)
    })
    return run
  }

  /** Reads and verifies a document; persists the repair marker and throws if anything is damaged. */
  async #read(name: string, maxLogs?: number, after?: string): Promise<DocRecords | null> {
    this.#assertOpen()
    checkDocName(name)
    if (this.#corrupt.has(name)) throw corruptError(name)
    // Loading the meta record verifies it too (usually a cache hit), so a damaged meta is reported here as well.
    await this.#metaEntry(name)
    if (this.#corrupt.has(name)) throw corruptError(name)
    const records = await readDocRecords(this.#db, name, maxLogs, after)
    if (records !== null && records.badKeys.length > 0) {
      await this.#markCorrupt(name, records.badKeys)
      throw corruptError(name)
    }
    return records
  }

  /** Persists the repair marker if one of `keys` still holds a damaged value (a repair may have replaced it). */
  /**
   * Applies a document's records to `doc`. A record that passes its checksum but that Yjs cannot
   * apply (written by an older, buggier build, or damaged before it was checksummed) makes the
   * document corrupt as well: marked for repair, never served as if whole.
   */
  async #apply(name: string, doc: Y.Doc, records: DocRecords, origin?: unknown): Promise<void> {
    try {
      applyRecords(doc, records, origin)
    } catch (cause) {
      if (cause instanceof RhizomeError) throw cause
      await this.#markUnappliable(name, cause)
      throw corruptError(name)
    }
  }

  /** Persists the repair marker for a document whose records Yjs cannot apply. */
  async #markUnappliable(name: string, cause: unknown): Promise<void> {
    const reason = `a record cannot be applied: ${cause instanceof Error ? cause.message : String(cause)}`
    await this.#queue.enqueue({ name, run: async (batch) => batch.markCorrupt(name, reason) })
  }

  async #markCorrupt(name: string, keys: readonly string[]): Promise<void> {
    await this.#queue.enqueue({
      name,
      run: async (batch) => {
        for (const key of keys) {
          const value = await this.#db.get<string, Uint8Array>(key, RAW)
          if (value !== undefined && decodeChecked(key, value) === null) {
            batch.markCorrupt(name, key)
            return
          }
        }
      },
    })
  }

  /** The committed meta entry of a document (cached, or loaded and cached), `null` when unknown. */
  async #metaEntry(name: string): Promise<MetaEntry | null> {
    const cached = this.#cache.get(name)
    if (cached !== undefined) return cached
    const endLoad = this.#cache.beginLoad()
    try {
      const key = metaKey(name)
      const raw = await this.#db.get<string, Uint8Array>(key, RAW)
      if (raw === undefined) return this.#cache.get(name) ?? null
      let meta = this.#decodeMetaValue(key, raw)
      if (meta === null) {
        await this.#markCorrupt(name, [key])
        meta = await rebuildMeta(this.#db, name)
      }
      return this.#cache.setIfAbsent(name, { meta, gen: ++this.#gen })
    } finally {
      endLoad()
    }
  }

  #decodeMetaValue(key: string, raw: Uint8Array): DocMeta | null {
    const payload = decodeChecked(key, raw)
    if (payload === null) return null
    try {
      return decodeMeta(payload)
    } catch {
      return null
    }
  }

  /** Meta loader of the commit path: damaged meta records are rebuilt and the marker goes into the same batch. */
  async #loadMetas(names: readonly string[], batch: StagedBatch): Promise<Map<string, MetaEntry | null>> {
    const keys = names.map(metaKey)
    const values = await this.#db.getMany<string, Uint8Array>(keys, RAW)
    const out = new Map<string, MetaEntry | null>()
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!
      const raw = values[i]
      if (raw === undefined) {
        out.set(name, null)
        continue
      }
      let meta = this.#decodeMetaValue(keys[i]!, raw)
      if (meta === null) {
        batch.markCorrupt(name, keys[i]!)
        meta = await rebuildMeta(this.#db, name)
        // Rewrite the meta record with this batch whatever the job does.
        out.set(name, { meta, gen: ++this.#gen })
        continue
      }
      out.set(name, { meta, gen: ++this.#gen })
    }
    return out
  }

  async #commit(jobs: readonly Job[]): Promise<void> {
    const started = performance.now()
    const batch = new StagedBatch(this.#cache, (names, b) => this.#loadMetas(names, b))
    const names = new Set(jobs.map((job) => job.name))
    await batch.prefetch(names)
    for (const job of jobs) await job.run(batch)
    for (const name of batch.markedCorrupt) if (await batch.meta(name)) batch.touch(name)
    const ops = batch.operations()
    if (ops.length > 0) {
      if (this.#db.status !== 'open') throw new RhizomeError(ErrorCode.STORE_CLOSED, 'the database is closed')
      await this.#db.batch<string, Uint8Array>(ops, SYNC_BATCH)
    }
    batch.install()
    this.#docCount += batch.created.size
    for (const name of batch.markedCorrupt) this.#corrupt.add(name)
    for (const name of batch.repaired) this.#corrupt.delete(name)
    this.#onCommit?.({ ms: performance.now() - started, ops: jobs.length, docs: names.size })
    for (const name of batch.appended) this.#maybeCompact(name)
  }

  #maybeCompact(name: string): void {
    if (this.#closed || this.#compacting.has(name) || this.#corrupt.has(name)) return
    const entry = this.#cache.get(name)
    if (entry === undefined) return
    const { updates, logBytes } = entry.meta
    if (updates < 2 || (updates < this.#compactUpdates && logBytes < this.#compactBytes)) return
    this.#compacting.add(name)
    const work = this.#exclusively(name, () => this.#compactNow(name)).then(
      () => {
        this.#compacting.delete(name)
        // Appends committed while this compaction ran were not merged and may be over the threshold already.
        this.#maybeCompact(name)
      },
      (err) => {
        this.#compacting.delete(name)
        const expected =
          err instanceof RhizomeError &&
          (err.code === ErrorCode.STORE_CORRUPT || err.code === ErrorCode.STORE_CLOSED)
        if (!expected) this.#onError(err)
      },
    )
    this.#track(work)
  }

  async #compactNow(name: string): Promise<void> {
    const entry = await this.#metaEntry(name)
    if (entry === null) return
    const gen = entry.gen
    const records = await this.#read(name, COMPACT_SLICE, this.#compactHint.get(name))
    if (records === null || records.logs.length === 0) return
    let merged: ReturnType<typeof mergeRecords>
    try {
      merged = mergeRecords(records)
    } catch (cause) {
      await this.#markUnappliable(name, cause)
      throw corruptError(name)
    }
    const { logKeys, logCountRead, logBytesRead } = records
    await this.#queue.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null) return
        for (const key of logKeys) batch.del(key)
        const key = snapshotKey(name)
        batch.put(key, encodeChecked(key, merged.snapshot))
        staged.meta.updates = Math.max(0, staged.meta.updates - logCountRead)
        staged.meta.logBytes = Math.max(0, staged.meta.logBytes - logBytesRead)
        staged.meta.snapshotBytes = merged.snapshot.length
        // Compaction does not change the state; the digest is fresh if nothing was appended since the read.
        // Only when this slice was the whole log (the meta record counts every log record).
        if (staged.meta.updates === 0 && staged.gen === gen) {
          staged.meta.digest = merged.digest
          staged.meta.stateVector = merged.stateVector
        }
        batch.touch(name)
      },
    })
    const last = logKeys.at(-1)
    if (last !== undefined) {
      if (this.#compactHint.size >= 10_000) this.#compactHint.clear()
      this.#compactHint.set(name, last)
    }
    this.#dropTombstones(name, logCountRead)
  }

  /**
   * LevelDB keeps deleted keys as tombstones until its own compaction reaches them, and every read
   * of the document's range walks them. Once enough have piled up, ask LevelDB (where the backend can)
   * to compact that range in the background.
   */
  #dropTombstones(name: string, deleted: number): void {
    const db = this.#db as AnyLevel & {
      compactRange?: (start: string, end: string, o: object) => Promise<void>
    }
    if (typeof db.compactRange !== 'function') return
    const count = (this.#tombstones.get(name) ?? 0) + deleted
    if (count < TOMBSTONES_BEFORE_RANGE_COMPACTION) {
      this.#tombstones.set(name, count)
      return
    }
    this.#tombstones.delete(name)
    const { gte, lt } = docRange(name)
    this.#track(db.compactRange(gte, lt, { keyEncoding: 'utf8' }).catch((err) => this.#onError(err)))
  }

  async #repairNow(name: string, update: Uint8Array): Promise<void> {
    this.#compactHint.delete(name)
    const entry = await this.#metaEntry(name)
    const gen = entry?.gen ?? null
    const records = await readDocRecords(this.#db, name)
    let merged: ReturnType<typeof mergeRecords>
    try {
      merged = mergeRecords(records, update)
    } catch {
      // A local record Yjs cannot apply: the peer's state alone replaces what is here.
      merged = mergeRecords(null, update)
    }
    const dropKeys = [...(records?.logKeys ?? []), ...(records?.badKeys ?? [])]
    const logCountRead = records?.logCountRead ?? 0
    const logBytesRead = records?.logBytesRead ?? 0
    await this.#queue.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        const unchanged = staged === null ? gen === null : staged.gen === gen
        const target = staged ?? batch.create(name, { meta: emptyMeta(), gen: 0 })
        for (const key of dropKeys) batch.del(key)
        const key = snapshotKey(name)
        batch.put(key, encodeChecked(key, merged.snapshot))
        target.meta.updates = Math.max(0, target.meta.updates - logCountRead)
        target.meta.logBytes = Math.max(0, target.meta.logBytes - logBytesRead)
        target.meta.snapshotBytes = merged.snapshot.length
        target.meta.digest = unchanged ? merged.digest : null
        target.meta.stateVector = unchanged ? merged.stateVector : null
        target.gen = ++this.#gen
        batch.touch(name)
        batch.clearCorrupt(name)
      },
    })
  }

  /** Digest and state vector, from the meta record when fresh, else computed and written back. */
  async #summary(name: string): Promise<{ digest: string; stateVector: Uint8Array } | null> {
    this.#assertOpen()
    checkDocName(name)
    if (this.#corrupt.has(name)) throw corruptError(name)
    const entry = await this.#metaEntry(name)
    if (entry === null) return null
    const { digest, stateVector } = entry.meta
    if (digest !== null && stateVector !== null) return { digest, stateVector }
    const gen = entry.gen
    const records = await this.#read(name)
    if (records === null) return null
    const doc = scratchDoc()
    let summary: { digest: string; stateVector: Uint8Array }
    try {
      await this.#apply(name, doc, records)
      summary = { digest: digestOfDoc(doc), stateVector: Y.encodeStateVector(doc) }
    } finally {
      doc.destroy()
    }
    const writeBack = this.#queue.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null || staged.gen !== gen || staged.meta.digest !== null) return
        staged.meta.digest = summary.digest
        staged.meta.stateVector = summary.stateVector
        batch.touch(name)
      },
    })
    // Callers need not wait for the fsync of a cache write; close() still drains it.
    writeBack.catch((err) => this.#onError(err))
    return summary
  }

  async #catalogEntry(name: string, meta: DocMeta): Promise<CatalogEntry> {
    const bytes = meta.logBytes + meta.snapshotBytes
    const corrupt = (): CatalogEntry => ({ name, digest: null, bytes, updates: meta.updates, corrupt: true })
    if (this.#corrupt.has(name)) return corrupt()
    if (meta.digest !== null)
      return { name, digest: meta.digest, bytes, updates: meta.updates, corrupt: false }
    try {
      const summary = await this.#summary(name)
      const current = this.#cache.get(name)?.meta ?? meta
      return {
        name,
        digest: summary?.digest ?? null,
        bytes: current.logBytes + current.snapshotBytes,
        updates: current.updates,
        corrupt: false,
      }
    } catch (err) {
      if (err instanceof RhizomeError && err.code === ErrorCode.STORE_CORRUPT) return corrupt()
      throw err
    }
  }
}

/** Rewrites every readable meta record without its cached digest and state vector. */
async function forgetDigests(db: AnyLevel): Promise<void> {
  let ops: { type: 'put'; key: string; value: Uint8Array }[] = []
  for await (const [key, value] of db.iterator<string, Uint8Array>({ ...metaRange(), ...RAW })) {
    const payload = decodeChecked(key, value)
    if (payload === null) continue // found and reported as corrupt when read
    let meta: DocMeta
    try {
      meta = decodeMeta(payload)
    } catch {
      continue
    }
    if (meta.digest === null) continue
    meta.digest = null
    meta.stateVector = null
    ops.push({ type: 'put', key, value: encodeChecked(key, encodeMeta(meta)) })
    if (ops.length >= 1000) {
      await db.batch<string, Uint8Array>(ops, SYNC_BATCH)
      ops = []
    }
  }
  if (ops.length > 0) await db.batch<string, Uint8Array>(ops, SYNC_BATCH)
}
