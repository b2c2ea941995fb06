import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import type { RestorePoint } from '@rhizome/store'
import { HTTP_ORIGIN } from '../changes/changeOrigin.js'
import type { AckSource } from '../docs/AckTracker.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import { parseTime } from './documentAt.js'
import { isKnownDoc } from './knownDoc.js'

/** A JSON answer of the history endpoints: HTTP status and body. */
export interface HistoryAnswer {
  status: number
  body: { error: string; message?: string }
}

/** What the history endpoints need from the relay. */
export interface HistoryHost {
  readonly docs: DocRegistry
  /** Sequence number each caught-up peer must acknowledge to hold the current state (the mesh's). */
  ackTargets(): Map<AckSource, number>
}

/** A revert applied to the loaded document: the commit that makes it durable and the peers' ACK targets. */
export interface AppliedRevert {
  committed: Promise<void>
  targets: Map<AckSource, number>
}

/**
 * Reads the `TIME` of `?at=` or `?revert=` (docs/PROTOCOL.md sections 8.1 and 10) against the
 * relay's clock `now`: ms since the epoch, or the 400 answer for a malformed time or one in the
 * future. Moments before the history window are left to the store (404 HISTORY_UNAVAILABLE, see
 * {@link historyAnswerOf}).
 */
export function momentOf(param: string, raw: string, now: number): number | HistoryAnswer {
  const at = parseTime(raw)
  if (at === null || !Number.isSafeInteger(at))
    return usage(`${param} must be ISO 8601 or milliseconds since the epoch, got '${raw}'`)
  if (at > now) return usage(`${new Date(at).toISOString()} is in the future`)
  return at
}

function usage(message: string): HistoryAnswer {
  return { status: 400, body: { error: ErrorCode.USAGE, message } }
}

/**
 * The answer for an error of a history read: 404 `HISTORY_UNAVAILABLE` for a moment outside the
 * window (ErrorCode HISTORY_UNAVAILABLE: no such state is kept); null for any other error.
 */
export function historyAnswerOf(err: unknown): HistoryAnswer | null {
  if (isRhizomeError(err, ErrorCode.HISTORY_UNAVAILABLE))
    return { status: 404, body: { error: ErrorCode.HISTORY_UNAVAILABLE, message: err.message } }
  if (isRhizomeError(err, ErrorCode.USAGE)) return usage(err.message)
  return null
}

/**
 * `GET /docs/<name>?history=1`: the document's restore points, newest first (see
 * `DocStore.history`), or null for an unknown document. What the loaded copy applied is committed
 * first, so every update it holds is listed with its receive time.
 * @throws RhizomeError STORE_CORRUPT when a record is damaged.
 */
export async function restorePointsOf(docs: DocRegistry, name: string): Promise<RestorePoint[] | null> {
  if (!(await isKnownDoc(docs, name))) return null
  await docs.whenCommitted(name)
  return docs.store.history(name)
}

/**
 * `POST /docs/<name>?revert=TIME` (docs/PROTOCOL.md section 10): computes the one forward update
 * that makes the document's content what it was at `at` and applies it to the loaded document with
 * origin `'http'`, like any edit: stored, sent to the document's sockets and sessions, forwarded to
 * peers. It is computed from the store after everything the loaded copy applied is committed, so it
 * reverts exactly what this relay holds; edits that arrive while it is computed merge with it as
 * concurrent edits. Returns null for an unknown document (nothing is created).
 * @throws RhizomeError HISTORY_UNAVAILABLE when `at` is outside the history window or in the future.
 * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
 */
export async function applyRevert(
  host: HistoryHost,
  name: string,
  at: number,
): Promise<AppliedRevert | null> {
  const { docs } = host
  if (!(await isKnownDoc(docs, name))) return null
  return docs.withDoc(name, async (doc) => {
    await docs.whenCommitted(name)
    const update = await docs.store.revertTo(name, at)
    if (update === null) return null
    doc.apply(update, HTTP_ORIGIN)
    // Taken right after the apply, which forwarded the update to every peer link.
    return { committed: doc.whenCommitted(), targets: host.ackTargets() }
  })
}
