import * as Y from 'yjs'
import type { DocReader } from '../DocReader.js'
import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import { checkDocName } from '../keys.js'
import type { Lifecycle } from '../Lifecycle.js'
import { corruptError, quarantineUnappliable } from '../quarantine.js'
import type { DocRecords } from '../records.js'
import type { HistoryIndex, IndexRead } from './HistoryIndex.js'
import { checkMoment, MINUTE_MS, windowStart } from './historyWindow.js'
import { changesAfter, encodeStateAt, historyDoc, snapshotWithout } from './stateAt.js'
import { applyTimedLogs, timedLogs } from './timedLogs.js'

/** A moment a document can be restored to (see {@link HistoryReader.restorePoints}). */
export interface RestorePoint {
  /** The moment (ms since the epoch): the latest receive time of the minute (or hour) it stands for. */
  at: number
  /** Payload bytes of the updates received in that minute (or hour, for history older than a day). */
  bytes: number
}

/** The history window: its length and the clock it is measured by. */
export interface HistorySettings {
  /** Length of the window in ms (0: no history). */
  historyMs: number
  /** The store's clock (ms since the epoch). */
  clock: () => number
}

/** A consistent read of a document: its records and the history chunks after a moment. */
interface View {
  records: DocRecords
  index: IndexRead
}

/**
 * Reads of a document's past: its state at a moment, what it received since, and its restore
 * points. Reads run exclusively of compactions, purges and repairs of the document, so its
 * snapshot, log and history index are read as one consistent whole.
 */
export class HistoryReader {
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #life: Lifecycle
  readonly #index: HistoryIndex
  readonly #settings: HistorySettings

  constructor(
    commit: GroupCommit,
    reader: DocReader,
    life: Lifecycle,
    index: HistoryIndex,
    settings: HistorySettings,
  ) {
    this.#commit = commit
    this.#reader = reader
    this.#life = life
    this.#index = index
    this.#settings = settings
  }

  /**
   * The document as of `at` (every update received at or before it, nothing later) as one Yjs v1
   * update, or `null` when the document is unknown. Exact for the last 24 hours; older history is
   * kept per hour, and then the state leaves out the updates of `at`'s hour received before `at`.
   * A document that did not exist yet at `at` gives an empty document.
   * @throws RhizomeError HISTORY_UNAVAILABLE when `at` is older than the window or in the future.
   * @throws RhizomeError STORE_CORRUPT when a record or history chunk is damaged.
   */
  async stateAt(name: string, at: number): Promise<Uint8Array | null> {
    return this.#atMoment(name, at, encodeStateAt)
  }

  /**
   * Everything the document received after `at`, as one Yjs v1 update that keeps the content
   * deleted since (what `revertUpdate` needs); `stateAt(at)` plus this is the current document.
   * `null` when the document is unknown.
   * @throws RhizomeError as {@link stateAt}.
   */
  async updatesSince(name: string, at: number): Promise<Uint8Array | null> {
    return this.#atMoment(name, at, changesAfter)
  }

  /**
   * Restore points inside the window, newest first: one per minute in which the document received
   * updates (one per hour for history older than a day), at that minute's latest receive time.
   * Empty for an unknown document.
   * @throws RhizomeError STORE_CORRUPT when a record or history chunk is damaged.
   */
  async restorePoints(name: string): Promise<RestorePoint[]> {
    const view = await this.#view(name, Number.NEGATIVE_INFINITY)
    if (view === null) return []
    const now = this.#settings.clock()
    const start = windowStart(now, this.#settings.historyMs)
    const points = new Map<number, RestorePoint>()
    const add = (minute: number, at: number, bytes: number) => {
      if (at < start || at > now) return
      const point = points.get(minute)
      if (point === undefined) points.set(minute, { at, bytes })
      else {
        point.at = Math.max(point.at, at)
        point.bytes += bytes
      }
    }
    // An hourly effect stands at its hour's latest receive time: grouped by minute like the rest.
    for (const e of view.index.effects) add(Math.floor(e.time / MINUTE_MS), e.time, e.bytes)
    for (const log of timedLogs(name, view.records, view.index.lastTime)) {
      add(Math.floor(log.time / MINUTE_MS), log.time, log.update.length)
    }
    return [...points.values()].sort((a, b) => b.at - a.at)
  }

  async #atMoment(
    name: string,
    at: number,
    encode: (doc: Y.Doc, snapshot: Y.Snapshot) => Uint8Array,
  ): Promise<Uint8Array | null> {
    this.#life.assertOpen()
    checkDocName(name)
    checkMoment(at, this.#settings.clock(), this.#settings.historyMs)
    const view = await this.#view(name, at)
    if (view === null) return null
    const doc = historyDoc()
    try {
      let logEffects: ReturnType<typeof applyTimedLogs>
      try {
        Y.transact(doc, () => {
          if (view.records.snapshot) Y.applyUpdate(doc, view.records.snapshot)
        })
        logEffects = applyTimedLogs(doc, timedLogs(name, view.records, view.index.lastTime))
      } catch (cause) {
        await quarantineUnappliable(this.#commit, name, cause)
        throw corruptError(name)
      }
      const later = [...view.index.effects, ...logEffects].filter((e) => e.time > at)
      return encode(doc, snapshotWithout(doc, later))
    } finally {
      doc.destroy()
    }
  }

  /** Reads the document's records and the chunks covering times after `after`, as one view. */
  async #view(name: string, after: number): Promise<View | null> {
    this.#life.assertOpen()
    checkDocName(name)
    let view: View | null = null
    await this.#life.exclusively(name, async () => {
      const records = await this.#reader.read(name)
      if (records !== null) view = { records, index: await this.#index.read(name, after) }
    })
    return view
  }
}
