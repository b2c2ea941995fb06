/**
 * Receive times of log records. A record's receive time (ms since the epoch, the store's own clock)
 * is part of its key, after the session and counter:
 *
 * ```
 * d:<doc>\0l<session><counter>@<time base 36>     a log record received at <time>
 * d:<doc>\0l<session><counter>                    a record written before receive times existed
 * ```
 *
 * Keeping the time in the key leaves values (the checksummed Yjs update) and the key order (append
 * order, which compaction resumes by) exactly as before, so stores written earlier stay readable:
 * their records simply have no time and count as received before any history.
 */
import { docRange, logKey } from '../keys.js'

const TIME_MARK = '@'

/**
 * Throws a TypeError when `at` is not a receive time the store can record: a non-negative safe
 * integer (milliseconds since the epoch).
 */
export function checkReceiveTime(at: number): void {
  if (!Number.isSafeInteger(at) || at < 0)
    throw new TypeError('receive time must be a non-negative safe integer')
}

/** Key of a log record received at `at` (see {@link receiveTimeOfLogKey} for the inverse). */
export function timedLogKey(name: string, session: string, counter: number, at: number): string {
  return logKey(name, session, counter) + TIME_MARK + at.toString(36)
}

/**
 * Receive time recorded in a log key of document `name`, or `null` for a record written before
 * receive times existed (or a key that carries no valid time).
 */
export function receiveTimeOfLogKey(name: string, key: string): number | null {
  // Session and counter are base-36 and hex, and the document name lies before this offset, so the
  // first mark after it is the time's.
  const mark = key.indexOf(TIME_MARK, docRange(name).gte.length + 1)
  if (mark < 0) return null
  const at = Number.parseInt(key.slice(mark + 1), 36)
  return Number.isSafeInteger(at) && at >= 0 ? at : null
}
