/**
 * The history window of docs/PROTOCOL.md section 9: a document can be reconstructed at any moment
 * of the last `historyMs`, exactly for the last {@link EXACT_MS}, to within {@link HOUR_MS} before.
 */
import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/** One hour: the granularity of history older than {@link EXACT_MS}. */
export const HOUR_MS = 60 * 60 * 1000
/** One minute: restore points are listed at most this far apart where the document changed. */
export const MINUTE_MS = 60 * 1000
/** History younger than this (24 hours) stays exact to the millisecond. */
export const EXACT_MS = 24 * HOUR_MS
/** Default retention: 30 days (the relay's `--history-ms` default). */
export const DEFAULT_HISTORY_MS = 30 * 24 * HOUR_MS

/** Throws a TypeError when `historyMs` is not a non-negative safe integer. */
export function checkHistoryMs(historyMs: number): void {
  if (!Number.isSafeInteger(historyMs) || historyMs < 0)
    throw new TypeError('historyMs must be a non-negative safe integer (0 = no history)')
}

/** Start of the window at `now`: moments before it are no longer kept. */
export function windowStart(now: number, historyMs: number): number {
  return now - historyMs
}

/**
 * Throws unless `at` lies in the window at `now`.
 * @throws TypeError when `at` is not a finite number.
 * @throws RhizomeError HISTORY_UNAVAILABLE when `at` is older than `historyMs` or after `now`.
 */
export function checkMoment(at: number, now: number, historyMs: number): void {
  if (!Number.isFinite(at)) throw new TypeError('a moment must be a finite number of ms since the epoch')
  if (at > now) throw new RhizomeError(ErrorCode.HISTORY_UNAVAILABLE, `${describe(at)} is in the future`)
  if (at < windowStart(now, historyMs))
    throw new RhizomeError(
      ErrorCode.HISTORY_UNAVAILABLE,
      `${describe(at)} is older than the history kept (${historyMs} ms)`,
    )
}

function describe(at: number): string {
  // Date covers +-8.64e15 ms; a number beyond that is shown as is.
  return Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : `${at} ms`
}
