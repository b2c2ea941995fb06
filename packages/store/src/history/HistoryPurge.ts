import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'
import type { Compactor } from '../Compactor.js'
import { encodeChecked } from '../checksum.js'
import type { DocReader } from '../DocReader.js'
import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import { docRange, metaRange, nameOfMetaKey, snapshotKey } from '../keys.js'
import type { Lifecycle } from '../Lifecycle.js'
import { compactKeyRange } from '../levelCompaction.js'
import { corruptError, quarantineUnappliable } from '../quarantine.js'
import type { AnyLevel } from '../records.js'
import { encodeEffects } from './effectChunk.js'
import { type Effect, mergeEffects } from './effects.js'
import { foldSnapshot } from './foldSnapshot.js'
import type { ChunkKey, HistoryIndex } from './HistoryIndex.js'
import type { HistorySettings } from './HistoryReader.js'
import { EXACT, exactChunkKey, HOURLY, historyRange, hourlyChunkKey, tailOfChunkKey } from './historyKeys.js'
import { EXACT_MS, HOUR_MS, windowStart } from './historyWindow.js'
import { receiveTimeOfLogKey } from './receiveTime.js'
import { historyDoc, snapshotWithout } from './stateAt.js'

/** Exact chunks turned into hourly ones per document and call: bounds the work of one call. */
const COARSEN_CHUNKS = 1000

/** What one {@link HistoryPurge.purge} call did. */
export interface PurgeReport {
  /** Documents looked at. */
  docs: number
  /** Documents whose history changed (dropped, folded or made hourly). */
  changed: number
  /** True when this call reached the last document (the next call starts over). */
  done: boolean
}

/**
 * Ages a document's history: exact chunks older than a day become one hourly effect per hour;
 * chunks that fell out of the window are dropped, and the snapshot is rewritten with the content
 * deleted before the window garbage-collected; then LevelDB compacts the affected ranges so those
 * bytes leave the disk. Each step is one atomic batch and runs exclusively of compactions and
 * repairs of the document; none changes its state, digest or change seq.
 */
export class HistoryPurge {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #life: Lifecycle
  readonly #index: HistoryIndex
  readonly #compactor: Compactor
  readonly #settings: HistorySettings
  /** Last document the previous call looked at; the next call continues after it. */
  #cursor: string | undefined

  constructor(
    db: AnyLevel,
    commit: GroupCommit,
    reader: DocReader,
    life: Lifecycle,
    index: HistoryIndex,
    compactor: Compactor,
    settings: HistorySettings,
  ) {
    this.#db = db
    this.#commit = commit
    this.#reader = reader
    this.#life = life
    this.#index = index
    this.#compactor = compactor
    this.#settings = settings
  }

  /**
   * Ages the history of up to `maxDocs` documents as of `now`, continuing after the document the
   * previous call stopped at, so that calling this periodically covers every document with
   * bounded work per call. Quarantined documents are skipped; a damaged history chunk skips its
   * document and is reported through `onError`.
   * @throws RhizomeError STORE_CLOSED when the store closes meanwhile.
   */
  async purge(now: number, maxDocs: number, onError: (err: unknown) => void): Promise<PurgeReport> {
    this.#life.assertOpen()
    const keys = await this.#db
      .keys<string>({ ...metaRange(this.#cursor), limit: maxDocs, keyEncoding: 'utf8' })
      .all()
    let changed = 0
    for (const key of keys) {
      const name = nameOfMetaKey(key)
      try {
        if (await this.purgeDocument(name, now)) changed++
      } catch (err) {
        if (err instanceof RhizomeError && err.code === ErrorCode.STORE_CLOSED) throw err
        onError(err)
      }
    }
    const done = keys.length < maxDocs
    this.#cursor = done ? undefined : nameOfMetaKey(keys.at(-1)!)
    return { docs: keys.length, changed, done }
  }

  /**
   * Ages one document's history as of `now` (see the class). Returns true when it changed.
   * @throws RhizomeError STORE_CORRUPT when a record or history chunk is damaged.
   */
  async purgeDocument(name: string, now: number): Promise<boolean> {
    if (this.#commit.quarantined.has(name)) return false
    const start = windowStart(now, this.#settings.historyMs)
    const entry = await this.#reader.metaEntry(name)
    if (entry === null) return false
    // Log records older than the window go through compaction first, which moves them into the
    // snapshot and the index, where the fold below can drop them.
    if (this.#settings.historyMs > 0 && entry.meta.updates > 0 && (await this.#hasLogBefore(name, start)))
      await this.#compactor.compact(name)
    let changed = false
    let foldedSnapshot = false
    await this.#life.exclusively(name, async () => {
      const keys = await this.#index.keys(name)
      if (keys.length === 0) return
      const fold = await this.#fold(name, keys, start)
      // Straddling chunks were rewritten under new keys: coarsening picks them up next time.
      const rest = keys.filter((k) => k.first > start || (k.kind === HOURLY && k.last > start))
      const coarsened = await this.#coarsen(name, rest, now - EXACT_MS)
      changed = fold !== null || coarsened
      foldedSnapshot = fold === true
    })
    if (changed) {
      await compactKeyRange(this.#db, historyRange(name))
      if (foldedSnapshot) await compactKeyRange(this.#db, docRange(name))
    }
    return changed
  }

  async #hasLogBefore(name: string, start: number): Promise<boolean> {
    const range = docRange(name)
    for await (const key of this.#db.keys<string>({
      gte: range.gte,
      lt: snapshotKey(name),
      keyEncoding: 'utf8',
    })) {
      if ((receiveTimeOfLogKey(name, key) ?? 0) < start) return true
    }
    return false
  }

  /**
   * Drops the effects at or before `start` (every moment still served includes them): chunks that
   * lie wholly before it go, an exact chunk that straddles it keeps its later effects. When the
   * dropped effects deleted anything, rewrites the snapshot with that content collected.
   * Returns null when nothing was dropped, else whether the snapshot was rewritten.
   */
  async #fold(name: string, keys: readonly ChunkKey[], start: number): Promise<boolean | null> {
    const drop = keys.filter((k) => k.last <= start)
    const trim = keys.filter((k) => k.kind === EXACT && k.first <= start && k.last > start)
    if (drop.length === 0 && trim.length === 0) return null
    const old = [...drop, ...trim]
    const oldEffects = await this.#index.effectsOf(name, old)
    const deleted = oldEffects.some((list) => list.some((e) => e.time <= start && e.deletes.size > 0))
    const puts: [string, Uint8Array][] = []
    trim.forEach((k, i) => {
      const kept = oldEffects[drop.length + i]!.filter((e) => e.time > start)
      const key = exactChunkKey(name, kept[0]!.time, k.last, tailOfChunkKey(name, k.key))
      puts.push([key, encodeChecked(key, encodeEffects(kept))])
    })
    let snapshot: Uint8Array | null = null
    if (deleted) {
      const records = await this.#reader.read(name)
      if (records?.snapshot) {
        const laterKeys = keys.filter((k) => k.last > start)
        const later = (await this.#index.effectsOf(name, laterKeys)).flat().filter((e) => e.time > start)
        const doc = historyDoc()
        try {
          Y.applyUpdate(doc, records.snapshot)
          snapshot = foldSnapshot(doc, snapshotWithout(doc, later))
        } catch (cause) {
          await quarantineUnappliable(this.#commit, name, cause)
          throw corruptError(name)
        } finally {
          doc.destroy()
        }
      }
    }
    await this.#commit.enqueue({
      name,
      run: async (batch) => {
        const staged = await batch.meta(name)
        if (staged === null) return
        for (const k of old) batch.del(k.key)
        for (const [key, value] of puts) batch.put(key, value)
        if (snapshot === null) return
        const key = snapshotKey(name)
        batch.put(key, encodeChecked(key, snapshot))
        staged.meta.snapshotBytes = snapshot.length
        batch.touch(name)
      },
    })
    return snapshot !== null
  }

  /** Turns exact chunks that end before `exactStart` into hourly ones. Returns true when it did. */
  async #coarsen(name: string, keys: readonly ChunkKey[], exactStart: number): Promise<boolean> {
    const old = keys.filter((k) => k.kind === EXACT && k.last < exactStart).slice(0, COARSEN_CHUNKS)
    if (old.length === 0) return false
    const byHour = new Map<number, Effect[]>()
    for (const effect of (await this.#index.effectsOf(name, old)).flat()) {
      const hour = Math.floor(effect.time / HOUR_MS) * HOUR_MS
      const list = byHour.get(hour)
      if (list === undefined) byHour.set(hour, [effect])
      else list.push(effect)
    }
    // An hour already made hourly by an earlier call is merged with the rest of that hour.
    const existing = keys.filter((k) => k.kind === HOURLY && byHour.has(k.first))
    const existingEffects = await this.#index.effectsOf(name, existing)
    existing.forEach((k, i) => {
      byHour.get(k.first)!.unshift(...existingEffects[i]!)
    })
    const puts: [string, Uint8Array][] = []
    for (const [hour, effects] of byHour) {
      const merged = mergeEffects(effects)
      const key = hourlyChunkKey(name, hour, merged.time)
      puts.push([key, encodeChecked(key, encodeEffects([merged]))])
    }
    await this.#commit.enqueue({
      name: null,
      run: (batch) => {
        for (const k of [...old, ...existing]) batch.del(k.key)
        for (const [key, value] of puts) batch.put(key, value)
      },
    })
    return true
  }
}
