import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { encodeChecked } from './checksum.js'
import type { DocReader } from './DocReader.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import type { StagedBatch } from './groupCommit/StagedBatch.js'
import { docRange, snapshotKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { countCompacted, setSummary } from './meta.js'
import { corruptError, quarantineUnappliable } from './quarantine.js'
import type { AnyLevel, DocRecords } from './records.js'
import { type Merged, mergeRecords } from './yjsMerge.js'

/**
 * How compaction keeps a document's history (see `history/HistoryCompaction.ts`): `prepare` does
 * the reads, then `merge` replaces the plain merge of a slice and `stage` adds writes to the
 * slice's batch, so the snapshot and what history records about it commit together.
 */
export interface CompactionHistory {
  prepare(name: string): Promise<{ merge(records: DocRecords): Merged; stage(batch: StagedBatch): void }>
}

/** When a document is compacted in the background, and where failures of that work go. */
export interface CompactorOptions {
  /** Compact once the log holds this many records. Default 500. */
  compactAfterUpdates?: number | undefined
  /** Compact once the log holds this many payload bytes. Default 1 MiB. */
  compactAfterBytes?: number | undefined
  /** Receives unexpected failures of background compactions (corruption and close are expected). */
  onError: (err: unknown) => void
  /** Keeps history while compacting; without it, compaction merges into a garbage-collected snapshot. */
  history?: CompactionHistory | undefined
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

/**
 * Compaction: merges a document's snapshot and log into a new snapshot and deletes the merged log
 * records in one atomic durable batch, a bounded slice at a time, resuming after the last log key
 * it deleted; once many records were deleted, asks LevelDB to compact the document's key range.
 * Compactions of one document never overlap (they run through `Lifecycle.exclusively`).
 */
export class Compactor {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #life: Lifecycle
  readonly #compactUpdates: number
  readonly #compactBytes: number
  readonly #onError: (err: unknown) => void
  readonly #history: CompactionHistory | undefined
  /**
   * Per document, the last log key a compaction deleted. Every log key before it is gone (log keys
   * of later opens sort after those of earlier ones), so the next slice starts after it instead of
   * scanning LevelDB's tombstones of everything compacted before.
   */
  readonly #compactHint = new Map<string, string>()
  /** Log records deleted per document since LevelDB last compacted its key range. */
  readonly #tombstones = new Map<string, number>()
  readonly #compacting = new Set<string>()

  constructor(
    db: AnyLevel,
    commit: GroupCommit,
    reader: DocReader,
    life: Lifecycle,
    options: CompactorOptions,
  ) {
    this.#db = db
    this.#commit = commit
    this.#reader = reader
    this.#life = life
    this.#compactUpdates = options.compactAfterUpdates ?? DEFAULT_COMPACT_UPDATES
    this.#compactBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES
    this.#onError = options.onError
    this.#history = options.history
  }

  /**
   * Compacts the document now (after any compaction or repair of it in flight), tracked as
   * background work. No-op for unknown or already compact documents.
   * @throws RhizomeError STORE_CORRUPT when a record fails its checksum.
   */
  compact(name: string): Promise<void> {
    return this.#life.track(this.#life.exclusively(name, () => this.#compactNow(name)))
  }

  /**
   * Schedules a background compaction when the document's committed log is over a threshold and
   * none is running; each slice schedules the next while the log stays over it. Never while the
   * store closes or the document is quarantined.
   */
  maybeCompact(name: string): void {
    if (this.#life.closed || this.#compacting.has(name) || this.#commit.quarantined.has(name)) return
    const entry = this.#commit.cache.get(name)
    if (entry === undefined) return
    const { updates, logBytes } = entry.meta
    if (updates < 2 || (updates < this.#compactUpdates && logBytes < this.#compactBytes)) return
    this.#compacting.add(name)
    const work = this.#life
      .exclusively(name, () => this.#compactNow(name))
      .then(
        () => {
          this.#compacting.delete(name)
          // Appends committed while this compaction ran were not merged and may be over the threshold already.
          this.maybeCompact(name)
        },
        (err) => {
          this.#compacting.delete(name)
          const expected =
            err instanceof RhizomeError &&
            (err.code === ErrorCode.STORE_CORRUPT || err.code === ErrorCode.STORE_CLOSED)
          if (!expected) this.#onError(err)
        },
      )
    this.#life.track(work)
  }

  /** Forgets where the last compaction stopped: a repair rewrites the document's records. */
  forget(name: string): void {
    this.#compactHint.delete(name)
  }

  async #compactNow(name: string): Promise<void> {
    const entry = await this.#reader.metaEntry(name)
    if (entry === null) return
    const gen = entry.gen
    const records = await this.#reader.read(name, COMPACT_SLICE, this.#compactHint.get(name))
    if (records === null || records.logs.length === 0) return
    const history = await this.#history?.prepare(name)
    let merged: Merged
    try {
      merged = history ? history.merge(records) : mergeRecords(records)
    } catch (cause) {
      await quarantineUnappliable(this.#commit, name, cause)
      throw corruptError(name)
    }
    // The closure keeps only what the commit needs, not the payloads read.
    const { logKeys, logCountRead, logBytesRead } = records
    await this.#commit.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null) return
        for (const key of logKeys) batch.del(key)
        const key = snapshotKey(name)
        batch.put(key, encodeChecked(key, merged.snapshot))
        history?.stage(batch)
        countCompacted(staged.meta, { logCountRead, logBytesRead }, merged.snapshot.length)
        // Compaction does not change the state; the digest is fresh if nothing was appended since the read.
        // Only when this slice was the whole log (the meta record counts every log record).
        if (staged.meta.updates === 0 && staged.gen === gen)
          setSummary(staged.meta, merged.digest, merged.stateVector)
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
    this.#life.track(db.compactRange(gte, lt, { keyEncoding: 'utf8' }).catch((err) => this.#onError(err)))
  }
}
