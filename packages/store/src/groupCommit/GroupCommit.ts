import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { encodeChecked } from '../checksum.js'
import { encodeDocCount } from '../docCount.js'
import { changeKey, DOC_COUNT_KEY, metaKey } from '../keys.js'
import type { MetaCache, MetaEntry } from '../MetaCache.js'
import { clearSummary, countLogRecord, decodeMetaRecord, emptyMeta } from '../meta.js'
import { type AnyLevel, RAW, rebuildMeta } from '../records.js'
import { CommitQueue } from './CommitQueue.js'
import { StagedBatch } from './StagedBatch.js'
import { writeSyncBatch } from './syncBatch.js'

const utf8 = new TextEncoder()

/** One unit of work of a group commit. */
export interface Job {
  /**
   * The document the job changes; its meta record is prefetched with the others of the batch.
   * `null` for a job that changes no document (local state).
   */
  name: string | null
  run(batch: StagedBatch): void | Promise<void>
}

/** Options of {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Metrics hook, called after each group commit with its duration, job count and distinct documents. */
  onCommit?: ((info: { ms: number; ops: number; docs: number }) => void) | undefined
  /** Called after each commit, once per document that received log records in it. */
  onAppended: (name: string) => void
}

/**
 * Every write of a store goes through here: jobs from all documents that arrive while one
 * `batch()` (with `sync: true`) is in flight go into the next single batch, and each job's promise
 * resolves only once its batch is durable. Owns the committed state derived from the batches: the
 * meta cache, the set of quarantined documents (those with a repair marker), the document count
 * and the generation counter.
 */
export class GroupCommit {
  /** Committed meta records; only commits install entries that replace others. */
  readonly cache: MetaCache
  readonly #db: AnyLevel
  readonly #queue: CommitQueue<Job>
  readonly #quarantined: Set<string>
  readonly #options: GroupCommitOptions
  #gen = 0
  #docCount: number
  #changeSeq: number

  /**
   * @param quarantined - documents with a persisted repair marker at open; kept current by commits.
   * @param docCount - documents stored at open.
   * @param changeSeq - the highest change sequence number committed (see `ChangeFeed`).
   */
  constructor(
    db: AnyLevel,
    cache: MetaCache,
    quarantined: Set<string>,
    docCount: number,
    changeSeq: number,
    options: GroupCommitOptions,
  ) {
    this.#changeSeq = changeSeq
    this.#db = db
    this.cache = cache
    this.#quarantined = quarantined
    this.#docCount = docCount
    this.#options = options
    this.#queue = new CommitQueue((jobs, submitted) => this.#commit(jobs, submitted))
  }

  /** Documents whose repair marker is committed. */
  get quarantined(): ReadonlySet<string> {
    return this.#quarantined
  }

  /** The highest change sequence number committed: every content change gets the next one. */
  get changeSeq(): number {
    return this.#changeSeq
  }

  /** Number of documents stored, as of the last commit. */
  get docCount(): number {
    return this.#docCount
  }

  /** A new generation number (process-wide unique): for every state change and every meta load. */
  nextGen(): number {
    return ++this.#gen
  }

  /** Resolves once the commit containing `job` is durable; rejects with that commit's error. */
  enqueue(job: Job): Promise<void> {
    return this.#queue.enqueue(job)
  }

  /** Resolves (never rejects) once every job enqueued so far has been committed or has failed. */
  drain(): Promise<void> {
    return this.#queue.drain()
  }

  /**
   * Appends one log record (`value`, already checksummed under `key`, of `bytes` payload bytes),
   * creating the document if needed; its cached summary goes stale.
   */
  append(name: string, key: string, value: Uint8Array, bytes: number): Promise<void> {
    return this.enqueue({
      name,
      run: async (batch) => {
        const entry = (await batch.meta(name)) ?? batch.create(name, { meta: emptyMeta(), gen: 0 })
        batch.put(key, value)
        countLogRecord(entry.meta, bytes)
        clearSummary(entry.meta)
        entry.gen = this.nextGen()
        batch.touch(name)
        batch.appended.add(name)
        batch.changedContent.add(name)
      },
    })
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
      let meta = decodeMetaRecord(keys[i]!, raw)
      if (meta === null) {
        batch.markCorrupt(name, keys[i]!)
        meta = await rebuildMeta(this.#db, name)
        // Rewrite the meta record with this batch whatever the job does.
        out.set(name, { meta, gen: this.nextGen() })
        continue
      }
      out.set(name, { meta, gen: this.nextGen() })
    }
    return out
  }

  /**
   * Gives every document whose content the batch changes the next change sequence number: its
   * previous change record is deleted and a new one written, so each document has exactly one.
   * Returns the head after this batch (installed only once the batch is durable).
   */
  async #stageChanges(batch: StagedBatch): Promise<number> {
    let seq = this.#changeSeq
    for (const name of batch.changedContent) {
      const entry = await batch.meta(name)
      if (!entry) continue
      if (entry.meta.seq > 0) batch.del(changeKey(entry.meta.seq))
      const key = changeKey(++seq)
      batch.put(key, encodeChecked(key, utf8.encode(name)))
      entry.meta.seq = seq
      batch.touch(name)
    }
    for (const [name, claim] of batch.changeClaims) {
      const key = changeKey(++seq)
      batch.put(key, encodeChecked(key, utf8.encode(name)))
      await claim(seq)
    }
    return seq
  }

  async #commit(jobs: readonly Job[], submitted: () => void): Promise<void> {
    const started = performance.now()
    const batch = new StagedBatch(this.cache, (names, b) => this.#loadMetas(names, b))
    const names = new Set<string>()
    for (const job of jobs) if (job.name !== null) names.add(job.name)
    await batch.prefetch(names)
    for (const job of jobs) await job.run(batch)
    for (const name of batch.markedCorrupt) if (await batch.meta(name)) batch.touch(name)
    const changeSeq = await this.#stageChanges(batch)
    const docCount = this.#docCount + batch.created.size - batch.dropped.size
    if (docCount !== this.#docCount) batch.put(DOC_COUNT_KEY, encodeDocCount(docCount))
    const ops = batch.operations()
    if (ops.length > 0) {
      if (this.#db.status !== 'open') throw new RhizomeError(ErrorCode.STORE_CLOSED, 'the database is closed')
      const written = writeSyncBatch(this.#db, ops)
      submitted()
      await written
    }
    batch.install()
    this.#changeSeq = changeSeq
    this.#docCount = docCount
    for (const name of batch.markedCorrupt) this.#quarantined.add(name)
    for (const name of batch.repaired) this.#quarantined.delete(name)
    this.#options.onCommit?.({ ms: performance.now() - started, ops: jobs.length, docs: names.size })
    for (const name of batch.appended) this.#options.onAppended(name)
  }
}
