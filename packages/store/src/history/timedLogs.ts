/**
 * Log records with their receive times, and applying them so that each receive millisecond's
 * effect is known.
 */
import * as Y from 'yjs'
import type { DocRecords } from '../records.js'
import { type Effect, effectOfTransaction, isEmptyEffect } from './effects.js'
import { receiveTimeOfLogKey } from './receiveTime.js'

/** One log record's update and the time it counts as received. */
export interface TimedLog {
  time: number
  update: Uint8Array
}

/**
 * The verified log records of `records` with their receive times, in the order to apply them:
 * by receive time (Yjs updates commute, so any order gives the same document), records without a
 * time (written before receive times existed) first, as received before any history. A history
 * is a sequence of effects in application order, so times must not decrease along it: a record
 * stamped before `after` (the latest time already in the index, from an earlier slice; a clock
 * that stepped back) counts from `after`. It is then reported late, never early: a state at a
 * moment never holds anything received after it.
 */
export function timedLogs(name: string, records: DocRecords, after: number): TimedLog[] {
  const out: TimedLog[] = records.logs.map((update, i) => ({
    time: receiveTimeOfLogKey(name, records.logKeys[i]!) ?? 0,
    update,
  }))
  // Array.prototype.sort is stable: records of one millisecond keep their append order.
  out.sort((a, b) => a.time - b.time)
  for (const log of out) log.time = Math.max(log.time, after)
  return out
}

/**
 * Applies `logs` to `doc` in order, one transaction per run of equal times, and returns the effect
 * of each run that changed something. Updates of the same millisecond share an effect: no moment
 * lies between them.
 * @throws Error from Yjs when an update cannot be applied.
 */
export function applyTimedLogs(doc: Y.Doc, logs: readonly TimedLog[]): Effect[] {
  const effects: Effect[] = []
  let i = 0
  while (i < logs.length) {
    const time = logs[i]!.time
    let bytes = 0
    const tr = Y.transact(doc, (t) => {
      for (; i < logs.length && logs[i]!.time === time; i++) {
        bytes += logs[i]!.update.length
        Y.applyUpdate(doc, logs[i]!.update)
      }
      return t
    })
    // Read after transact returned: only then are the transaction's states and delete set final.
    const effect = effectOfTransaction(tr, time, bytes)
    if (!isEmptyEffect(effect)) effects.push(effect)
  }
  return effects
}
