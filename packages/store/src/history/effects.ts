/**
 * Effects: what one change (the updates of one receive millisecond, or of one hour once history
 * is older than a day) did to a document, in terms of Yjs ids. A document's history is its current
 * state plus the list of its effects in the order they were applied; the state at a moment is the
 * current state minus the effects received after it (see `stateAt.ts`).
 */
import type * as Y from 'yjs'
import { type ClockRanges, normalizeRanges, unionRanges } from './clockRanges.js'

/** What one change did to a document. */
export interface Effect {
  /** Receive time (ms since the epoch); for an hourly effect, the latest receive time it covers. */
  time: number
  /** Payload bytes of the updates it covers. */
  bytes: number
  /**
   * Per client, the first clock this change integrated. Yjs integrates a client's structs in clock
   * order, so every clock of that client from here on up to the first clock of the client's next
   * effect belongs to this change; where it ends need not be stored.
   */
  inserts: Map<number, number>
  /** Per client, the clocks this change deleted (normalized ranges). */
  deletes: Map<number, ClockRanges>
}

/**
 * The effect of a finished transaction (after `Y.transact` returned: its states and delete set
 * are final then). Empty when the transaction changed nothing (a duplicate update).
 */
export function effectOfTransaction(tr: Y.Transaction, time: number, bytes: number): Effect {
  const inserts = new Map<number, number>()
  for (const [client, after] of tr.afterState) {
    const before = tr.beforeState.get(client) ?? 0
    if (after > before) inserts.set(client, before)
  }
  const deletes = new Map<number, ClockRanges>()
  for (const [client, items] of tr.deleteSet.clients) {
    const flat: number[] = []
    for (const item of items) flat.push(item.clock, item.len)
    const ranges = normalizeRanges(flat)
    if (ranges.length > 0) deletes.set(client, ranges)
  }
  return { time, bytes, inserts, deletes }
}

/** True when the effect inserted and deleted nothing. */
export function isEmptyEffect(effect: Effect): boolean {
  return effect.inserts.size === 0 && effect.deletes.size === 0
}

/**
 * One effect equivalent to `effects` (consecutive, in the order they were applied): the latest
 * time, the summed bytes, per client the first clock inserted, the union of deletions.
 * @throws TypeError when `effects` is empty.
 */
export function mergeEffects(effects: readonly Effect[]): Effect {
  if (effects.length === 0) throw new TypeError('nothing to merge')
  const inserts = new Map<number, number>()
  const deleteLists = new Map<number, ClockRanges[]>()
  let time = 0
  let bytes = 0
  for (const e of effects) {
    time = Math.max(time, e.time)
    bytes += e.bytes
    for (const [client, from] of e.inserts) inserts.set(client, Math.min(from, inserts.get(client) ?? from))
    for (const [client, ranges] of e.deletes) {
      const lists = deleteLists.get(client)
      if (lists === undefined) deleteLists.set(client, [ranges])
      else lists.push(ranges)
    }
  }
  const deletes = new Map<number, ClockRanges>()
  for (const [client, lists] of deleteLists) deletes.set(client, unionRanges(lists))
  return { time, bytes, inserts, deletes }
}
