import { digestOfDoc } from '@rhizome/protocol'
import * as Y from 'yjs'
import type { DocReader } from './DocReader.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { checkDocName, metaRange } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { clearSummary, decodeMetaRecord, encodeMetaRecord, setSummary } from './meta.js'
import { corruptError } from './quarantine.js'
import { type AnyLevel, RAW, SYNC_BATCH } from './records.js'
import { scratchDoc } from './yjsMerge.js'

/** A document's replica digest (`digestOfDoc`) and state vector. */
export interface Summary {
  digest: string
  stateVector: Uint8Array
}

/**
 * The digest and state vector cached in each document's meta record, so that catalogs and
 * anti-entropy need not load documents. An append makes them stale; the next read recomputes them
 * from the records and writes them back through the group commit.
 */
export class DigestCache {
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #life: Lifecycle
  readonly #onError: (err: unknown) => void

  /** @param onError - receives failures of digest write-backs, which no caller awaits. */
  constructor(commit: GroupCommit, reader: DocReader, life: Lifecycle, onError: (err: unknown) => void) {
    this.#commit = commit
    this.#reader = reader
    this.#life = life
    this.#onError = onError
  }

  /**
   * Digest and state vector, from the meta record when fresh, else computed and written back
   * (without waiting for that write). `null` when the document is unknown.
   * @throws RhizomeError STORE_CLOSED after close.
   * @throws RhizomeError STORE_CORRUPT when the document is quarantined or found damaged.
   */
  async summary(name: string): Promise<Summary | null> {
    this.#life.assertOpen()
    checkDocName(name)
    if (this.#commit.quarantined.has(name)) throw corruptError(name)
    const entry = await this.#reader.metaEntry(name)
    if (entry === null) return null
    const { digest, stateVector } = entry.meta
    if (digest !== null && stateVector !== null) return { digest, stateVector }
    const gen = entry.gen
    const records = await this.#reader.read(name)
    if (records === null) return null
    const doc = scratchDoc()
    let summary: Summary
    try {
      await this.#reader.apply(name, doc, records)
      summary = { digest: digestOfDoc(doc), stateVector: Y.encodeStateVector(doc) }
    } finally {
      doc.destroy()
    }
    const writeBack = this.#commit.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null || staged.gen !== gen || staged.meta.digest !== null) return
        setSummary(staged.meta, summary.digest, summary.stateVector)
        batch.touch(name)
      },
    })
    // Callers need not wait for the fsync of a cache write; close() still drains it.
    writeBack.catch((err) => this.#onError(err))
    return summary
  }

  /**
   * Records a summary computed by a caller that holds exactly the document's current state in
   * memory (see `DocStore.noteDigest`). A summary already cached is left alone, and so is a
   * quarantined document. With `firstRecordOnly` (see `DocStore.noteFirstDigest`), the summary was
   * computed from the one update just appended: it is recorded only when, at its turn in the
   * commit, the document holds exactly one log record and no snapshot, so that record is it.
   * Resolves once durable.
   */
  note(name: string, digest: string, stateVector: Uint8Array, firstRecordOnly = false): Promise<void> {
    return this.#commit.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null || staged.meta.digest !== null || this.#commit.quarantined.has(name)) return
        if (firstRecordOnly && (staged.meta.updates !== 1 || staged.meta.snapshotBytes !== 0)) return
        setSummary(staged.meta, digest, stateVector)
        batch.touch(name)
      },
    })
  }
}

/**
 * Rewrites every readable meta record without its cached digest and state vector (see
 * `DocStoreOptions.distrustDigests`). Damaged meta records are skipped: reads find and report them.
 */
export async function forgetDigests(db: AnyLevel): Promise<void> {
  let ops: { type: 'put'; key: string; value: Uint8Array }[] = []
  for await (const [key, value] of db.iterator<string, Uint8Array>({ ...metaRange(), ...RAW })) {
    const meta = decodeMetaRecord(key, value)
    if (meta === null || meta.digest === null) continue
    clearSummary(meta)
    ops.push({ type: 'put', key, value: encodeMetaRecord(key, meta) })
    if (ops.length >= 1000) {
      await db.batch<string, Uint8Array>(ops, SYNC_BATCH)
      ops = []
    }
  }
  if (ops.length > 0) await db.batch<string, Uint8Array>(ops, SYNC_BATCH)
}
