import type * as Y from 'yjs'
import { Catalog, type CatalogEntry } from './Catalog.js'
import { type ChangeRecord, changesSince, loadChangeHead } from './ChangeFeed.js'
import { Compactor } from './Compactor.js'
import { DigestCache, forgetDigests } from './DigestCache.js'
import { DocReader } from './DocReader.js'
import type { DocStoreOptions } from './DocStoreOptions.js'
import { countDocs } from './docCount.js'
import { existMany } from './existence.js'
import { GroupCommit } from './groupCommit/GroupCommit.js'
import { DocHistory } from './history/DocHistory.js'
import { HistoryCompaction } from './history/HistoryCompaction.js'
import { HistoryIndex } from './history/HistoryIndex.js'
import type { PurgeReport } from './history/HistoryPurge.js'
import type { RestorePoint } from './history/HistoryReader.js'
import { checkHistoryMs, DEFAULT_HISTORY_MS } from './history/historyWindow.js'
import { checkReceiveTime } from './history/receiveTime.js'
import { Integrity, type ScrubPage } from './Integrity.js'
import { checkDocName, metaKey } from './keys.js'
import { Lifecycle } from './Lifecycle.js'
import { LocalState } from './LocalState.js'
import { type AppendOptions, LogAppender } from './LogAppender.js'
import { MetaCache } from './MetaCache.js'
import { loadQuarantined, quarantinedDocs } from './quarantine.js'
import { type AnyLevel, RAW } from './records.js'
import { type ScannedState, scanStates } from './stateScan.js'
import { storedDiff, storedUpdate } from './storedUpdate.js'
import { loadStoreId } from './storeId.js'
import { type LoadedTombstones, loadTombstones, type TombstoneRecord, Tombstones } from './Tombstones.js'
import { DocTransfer } from './transfer/DocTransfer.js'

export type { CatalogEntry } from './Catalog.js'
export type { ChangeRecord } from './ChangeFeed.js'
export type { DocStoreOptions } from './DocStoreOptions.js'
export type { PurgeReport } from './history/HistoryPurge.js'
export type { RestorePoint } from './history/HistoryReader.js'
export type { ScrubPage } from './Integrity.js'
export type { AppendOptions } from './LogAppender.js'
export type { ScannedState } from './stateScan.js'
export type { TombstoneRecord } from './Tombstones.js'

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
  readonly #life = new Lifecycle()
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #compactor: Compactor
  readonly #digests: DigestCache
  readonly #catalog: Catalog
  readonly #history: DocHistory
  readonly #local: LocalState
  readonly #appender: LogAppender
  readonly #integrity: Integrity
  readonly #clock: () => number
  readonly #tombstones: Tombstones
  readonly #onError: (err: unknown) => void
  /** Whole documents in and out as they are stored: a refilling relay's bulk path. */
  readonly transfer: DocTransfer
  #closing: Promise<void> | null = null

  private constructor(
    db: AnyLevel,
    id: string,
    docCount: number,
    changeSeq: number,
    corrupt: Set<string>,
    tombstones: LoadedTombstones,
    options: DocStoreOptions,
  ) {
    this.#db = db
    this.id = id
    const onError = options.onError ?? ((err) => console.warn('rhizome store:', err))
    this.#onError = onError
    const historyMs = options.historyMs ?? DEFAULT_HISTORY_MS
    this.#clock = options.clock ?? Date.now
    const span = { historyMs, clock: this.#clock } // the history window
    const index = new HistoryIndex(db)
    const cache = new MetaCache(options.metaCacheSize ?? 10_000)
    this.#commit = new GroupCommit(db, cache, corrupt, docCount, changeSeq, {
      onCommit: options.onCommit,
      onAppended: (name) => this.#compactor.maybeCompact(name),
    })
    this.#reader = new DocReader(db, this.#commit, this.#life)
    this.#compactor = new Compactor(db, this.#commit, this.#reader, this.#life, {
      compactAfterUpdates: options.compactAfterUpdates,
      compactAfterBytes: options.compactAfterBytes,
      onError,
      history: historyMs > 0 ? new HistoryCompaction(index) : undefined,
    })
    this.#digests = new DigestCache(this.#commit, this.#reader, this.#life, onError)
    this.#catalog = new Catalog(db, this.#commit, this.#reader, this.#digests, this.#life)
    this.#history = new DocHistory(db, this.#commit, this.#reader, this.#life, index, this.#compactor, span)
    this.#local = new LocalState(db, this.#commit, this.#life)
    this.#appender = new LogAppender(this.#commit, this.#clock)
    this.#integrity = new Integrity(db, this.#commit, this.#reader, this.#life, this.#compactor)
    this.#tombstones = new Tombstones(tombstones, this.#commit)
    this.transfer = new DocTransfer(db, this.#commit, this.#life)
    for (const key of tombstones.damaged)
      onError(new Error(`tombstone record ${key} failed its checksum; ignored`))
  }

  /**
   * Opens a store over `db` (calling `db.open()` if needed). Keys are written as UTF-8 strings and
   * values as bytes with per-call encodings, so any default encodings of `db` work. Counts the
   * documents and loads the repair markers once; generates and persists a store id on first open.
   * @throws TypeError when `options.historyMs` is not a non-negative integer.
   */
  static async open(db: AnyLevel, options: DocStoreOptions = {}): Promise<DocStore> {
    if (options.historyMs !== undefined) checkHistoryMs(options.historyMs)
    await db.open()
    const id = await loadStoreId(db)
    if (options.distrustDigests) await forgetDigests(db)
    const docCount = await countDocs(db)
    const corrupt = await loadQuarantined(db)
    const changeSeq = await loadChangeHead(db)
    const tombstones = await loadTombstones(db)
    return new DocStore(db, id, docCount, changeSeq, corrupt, tombstones, options)
  }

  /**
   * The highest change sequence number committed (0 for a store that never changed). Every commit
   * that changes a document's content (append, repair) gives it the next number; see
   * {@link changesSince}. Numbers belong to this store: compare them only with the same {@link id}.
   */
  get changeSeq(): number {
    return this.#commit.changeSeq
  }

  /**
   * Documents whose last content change has a sequence number above `seq`, in sequence order, each
   * once. Costs what changed since `seq`, not what is stored (the catch-up of a device that was
   * offline). A document changed again while the listing runs may be listed at its new number.
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  changesSince(seq: number): AsyncIterable<ChangeRecord> {
    this.#life.assertOpen()
    if (!Number.isSafeInteger(seq) || seq < 0) throw new TypeError('seq must be a non-negative integer')
    return changesSince(this.#db, this.#life, seq)
  }

  /**
   * A value of the store owner's local state (for example a device's checkpoint with a relay), or
   * `null`. Local state is not a document: it is never listed, replicated or compacted.
   * @throws RhizomeError STORE_CORRUPT when the stored value fails its checksum.
   */
  async getLocal(key: string): Promise<Uint8Array | null> {
    return this.#local.get(key)
  }

  /**
   * Stores a value of local state; resolves once durable. Goes through the group commit, so it is
   * durable no earlier than every append issued before it.
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  putLocal(key: string, value: Uint8Array): Promise<void> {
    return this.#local.put(key, value)
  }

  /** Number of documents stored. */
  get docCount(): number {
    return this.#commit.docCount
  }

  /**
   * Appends one update to a document's log, creating the document if needed, with its receive time
   * (`options.at`, default now). Resolves once the group commit containing it is durable.
   * @throws TypeError when `options.at` is not a non-negative integer.
   * @throws RhizomeError PROTOCOL_MALFORMED when `update` does not decode (nothing is stored).
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  async append(name: string, update: Uint8Array, options: AppendOptions = {}): Promise<void> {
    this.#life.assertOpen()
    return this.#appender.append(name, update, options)
  }

  /** True when the document exists (even if it is corrupt). */
  async has(name: string): Promise<boolean> {
    this.#life.assertOpen()
    checkDocName(name)
    if (this.#commit.cache.has(name)) return true
    return (await this.#db.get<string, Uint8Array>(metaKey(name), RAW)) !== undefined
  }

  /**
   * For each of `names`, what {@link has} answers, in one database round trip (see `existMany`).
   * @throws TypeError for an invalid name.
   */
  async hasMany(names: readonly string[]): Promise<boolean[]> {
    this.#life.assertOpen()
    return existMany(this.#db, this.#commit, names)
  }

  /**
   * Applies the document's snapshot and log to `doc` with `origin` (in transactions of bounded size).
   * A log found over the compaction threshold is compacted in the background afterwards.
   * @returns false when the document is unknown.
   * @throws RhizomeError STORE_CORRUPT (with `doc`) when any of its records fails its checksum or it awaits repair.
   */
  async loadInto(name: string, doc: Y.Doc, origin?: unknown): Promise<boolean> {
    const records = await this.#reader.read(name)
    if (records === null) return false
    await this.#reader.apply(name, doc, records, origin)
    this.#compactor.maybeCompact(name)
    return true
  }

  /**
   * The document's merged state as one update (`Y.encodeStateAsUpdate` of a doc with everything applied), or `null`.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async getUpdate(name: string): Promise<Uint8Array | null> {
    return storedUpdate(this.#reader, name)
  }

  /**
   * Every document whose name starts with `prefix` with its whole state as one update, in name
   * order, read through one iterator; quarantined and damaged documents are left out. See `scanStates`.
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  scanStates(prefix = ''): AsyncIterable<ScannedState> {
    return scanStates(this.#db, this.#reader, this.#life, this.#commit.quarantined, prefix)
  }

  /**
   * The document's state vector, or `null` when unknown. Served from the meta record when fresh.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async getStateVector(name: string): Promise<Uint8Array | null> {
    const summary = await this.#digests.summary(name)
    return summary === null ? null : summary.stateVector.slice()
  }

  /**
   * What `stateVector` lacks of the document (`Y.encodeStateAsUpdate(doc, stateVector)`), or `null` when unknown.
   * @throws RhizomeError PROTOCOL_MALFORMED when `stateVector` does not decode.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async diff(name: string, stateVector: Uint8Array): Promise<Uint8Array | null> {
    this.#life.assertOpen()
    return storedDiff(this.#reader, name, stateVector)
  }

  /**
   * The replica digest (`digestOfDoc`), or `null` when unknown. Cached in the meta record; after
   * appends it is recomputed on the next call and written back.
   * @throws RhizomeError STORE_CORRUPT as {@link loadInto}.
   */
  async getDigest(name: string): Promise<string | null> {
    return (await this.#digests.summary(name))?.digest ?? null
  }

  /**
   * Resolves once the background work is done: compactions due (each slice schedules the next while
   * the log is over the threshold) and digest write-backs. `close()` instead stops scheduling new
   * compactions; call this first to leave every log compacted.
   */
  async settle(): Promise<void> {
    this.#life.assertOpen()
    await this.#life.idle()
    await this.#commit.drain()
  }

  /**
   * Records the digest and state vector of the document's current state, computed by a caller that
   * holds exactly that state in memory (a relay evicting a loaded document), so that catalogs and
   * anti-entropy need not load it again. The caller must have applied, and awaited the appends of,
   * every update of this document. Jobs commit in order, so an append issued after this call clears
   * the digest again; a digest already cached is left alone.
   */
  noteDigest(name: string, digest: string, stateVector: Uint8Array): Promise<void> {
    this.#life.assertOpen()
    checkDocName(name)
    return this.#digests.note(name, digest, stateVector)
  }

  /**
   * Records the digest and state vector of a document created by the `append` issued just before
   * (same turn, so both go into one commit), computed from that one update; ignored unless, at its
   * turn in the commit, that update is all the document holds (one log record, no snapshot).
   */
  async noteFirstDigest(name: string, digest: string, stateVector: Uint8Array): Promise<void> {
    this.#life.assertOpen()
    checkDocName(name)
    return this.#digests.note(name, digest, stateVector, true)
  }

  /**
   * Catalog entry of one document, or `null` when unknown. A corrupt document yields `digest: null, corrupt: true`.
   */
  async info(name: string): Promise<CatalogEntry | null> {
    this.#life.assertOpen()
    checkDocName(name)
    return this.#catalog.info(name)
  }

  /**
   * All documents in name (byte) order, starting after `after`, at most `limit`, only names
   * starting with `prefix` when given. Streams in pages; stale digests are computed one document
   * at a time and written back. Corrupt documents yield `digest: null, corrupt: true`.
   */
  catalog(options: { after?: string; limit?: number; prefix?: string } = {}): AsyncIterable<CatalogEntry> {
    return this.#catalog.list(options)
  }

  /**
   * Merges the document's snapshot and log into a new snapshot and deletes the merged log records,
   * in one atomic durable batch (a crash leaves the old or the new state). Appends that arrive
   * meanwhile are kept. No-op for unknown or already compact documents.
   * @throws RhizomeError STORE_CORRUPT when a record fails its checksum.
   */
  compact(name: string): Promise<void> {
    this.#life.assertOpen()
    checkDocName(name)
    return this.#compactor.compact(name)
  }

  /**
   * The document as it was at `at` (ms since the epoch): every update received at or before it and
   * nothing later, as one Yjs v1 update; to within the hour for moments older than 24 hours.
   * `null` when the document is unknown; an empty document when it did not exist yet.
   * @throws RhizomeError HISTORY_UNAVAILABLE when `at` is older than `historyMs` or in the future.
   * @throws RhizomeError STORE_CORRUPT when a record or history chunk is damaged.
   */
  stateAt(name: string, at: number): Promise<Uint8Array | null> {
    return this.#history.stateAt(name, at)
  }

  /**
   * Everything received after `at`, as one Yjs v1 update that keeps the content deleted since:
   * with {@link stateAt} what `revertUpdate` needs. `null` when the document is unknown.
   * @throws RhizomeError as {@link stateAt}.
   */
  updatesSince(name: string, at: number): Promise<Uint8Array | null> {
    return this.#history.updatesSince(name, at)
  }

  /**
   * The update that makes the document's content what it was at `at` (see `revertUpdate`), not
   * applied: append it, or apply it to the live document, like any edit. `null` when unknown.
   * @throws RhizomeError as {@link stateAt}.
   */
  async revertTo(name: string, at: number): Promise<Uint8Array | null> {
    return this.#history.revertTo(name, at)
  }

  /**
   * Restore points inside the history window, newest first: one per minute in which the document
   * received updates (per hour for history older than 24 hours), `at` that minute's latest receive
   * time, `bytes` the payload bytes received in it. Empty for an unknown document.
   * @throws RhizomeError STORE_CORRUPT when a record or history chunk is damaged.
   */
  history(name: string): Promise<RestorePoint[]> {
    return this.#history.restorePoints(name)
  }

  /**
   * Ages history as of `now` for up to `maxDocs` documents (default 100), continuing where the
   * previous call stopped: history older than a day becomes hourly, history older than
   * `historyMs` is dropped and its bytes compacted away on disk. Call it periodically.
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  purgeHistory(now: number = this.#clock(), options: { maxDocs?: number } = {}): Promise<PurgeReport> {
    return this.#history.purgeHistory(now, options.maxDocs ?? 100, this.#onError)
  }

  /**
   * Removes every record of the document (snapshot, log, history, meta, change record, repair
   * marker) in one atomic batch and compacts its key ranges on disk. For a deleted document whose
   * tombstone expired: nothing may append to it meanwhile. No-op for unknown documents.
   * @throws RhizomeError STORE_CLOSED after {@link close}.
   */
  purgeDocument(name: string): Promise<void> {
    return this.#history.purgeDocument(name)
  }

  /** True when the document awaits repair. */
  async isCorrupt(name: string): Promise<boolean> {
    this.#life.assertOpen()
    return this.#commit.quarantined.has(name)
  }

  /** Names of documents marked as needing repair (persisted markers), in name order. */
  async *corruptDocs(): AsyncIterable<string> {
    this.#life.assertOpen()
    yield* quarantinedDocs(this.#db)
  }

  /**
   * Rewrites the document from its still-valid records merged with `update` (its state from a
   * healthy peer), drops the damaged records and clears the repair marker, in one atomic batch.
   * Also creates the document if it is unknown.
   * @throws RhizomeError PROTOCOL_MALFORMED when `update` does not decode.
   */
  repair(name: string, update: Uint8Array): Promise<void> {
    return this.#integrity.repair(name, update)
  }

  /**
   * Verifies up to `limit` stored data records (snapshots and log records of every document) after
   * key `after`, in key order, against their checksums, without decoding or caching anything: a
   * background scrubber's step, light on memory. A document with a damaged record is quarantined
   * (repair marker) exactly as a read that found it would. Integrity checking happens on reads and
   * here, never in a scan before the store serves.
   * @returns how many records were verified, the documents found damaged, and the key to pass as
   *   `after` next (`null` after the last record).
   * @throws RhizomeError STORE_CLOSED after {@link close}; a LevelDB-level read error as it is.
   */
  async scrub(options: { after?: string; limit?: number } = {}): Promise<ScrubPage> {
    this.#life.assertOpen()
    return this.#integrity.scrub(options)
  }

  /**
   * Deletes the document as of `at` (default now) with a tombstone (docs/PROTOCOL.md section 9),
   * unless a record at least as recent says otherwise (last writer wins; a delete wins ties). Its
   * bytes stay until {@link purgeDocument}; refusing writes to it is the caller's ({@link deletedAt}).
   * The deletion gets a change sequence number. Resolves true once written durably.
   */
  tombstone(name: string, at: number = this.#clock()): Promise<boolean> {
    this.#life.assertOpen()
    checkDocName(name)
    checkReceiveTime(at)
    return this.#tombstones.merge({ name, deleted: true, at })
  }

  /**
   * Brings a deleted document back (its content is stored until purged), live as of `at` (default
   * now, always later than the delete it undoes); the content gets a new change sequence number.
   * @returns true when the document was deleted and is live now.
   */
  undelete(name: string, at?: number): Promise<boolean> {
    this.#life.assertOpen()
    checkDocName(name)
    if (this.#tombstones.deletedAt(name) === null) return Promise.resolve(false)
    const when = at ?? this.#tombstones.undeleteTime(name, this.#clock())
    checkReceiveTime(when)
    return this.#tombstones.merge({ name, deleted: false, at: when })
  }

  /** Merges a peer's tombstone record, last writer wins (a delete wins ties); true when it changed this store. */
  mergeTombstone(record: TombstoneRecord): Promise<boolean> {
    this.#life.assertOpen()
    checkDocName(record.name)
    checkReceiveTime(record.at)
    return this.#tombstones.merge({ name: record.name, deleted: record.deleted === true, at: record.at })
  }

  /** When the document was deleted (ms since the epoch), `null` when it is not. From memory. */
  deletedAt(name: string): number | null {
    return this.#tombstones.deletedAt(name)
  }

  /** The document's tombstone record, deleted or live (undeleted), or `null` when it never had one. */
  tombstoneOf(name: string): TombstoneRecord | null {
    return this.#tombstones.get(name)
  }

  /**
   * Tombstone records in name order after `after`, at most `limit`: deleted documents, plus live
   * records of undeleted ones with `includeLive`. Kept forever (a name and a time each).
   */
  tombstones(options: { after?: string; limit?: number; includeLive?: boolean } = {}): TombstoneRecord[] {
    this.#life.assertOpen()
    return this.#tombstones.list(options)
  }

  /** Resolves when every append issued so far is durable (or has failed). */
  async flush(): Promise<void> {
    this.#life.assertOpen()
    await this.#commit.drain()
  }

  /**
   * Waits for running compactions and repairs, flushes, then closes the database. Later calls of
   * other methods throw RhizomeError STORE_CLOSED; calling close again returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#life.close()
      this.#closing = (async () => {
        await this.#life.idle()
        await this.#commit.drain()
        await this.#db.close()
      })()
    }
    return this.#closing
  }
}
