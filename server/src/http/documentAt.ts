import type { DocRegistry } from '../docs/DocRegistry.js'
import { isKnownDoc } from './knownDoc.js'

/**
 * Parses a `TIME` of docs/PROTOCOL.md section 8.1: ISO 8601 (`2026-12-01T14:03:00Z`) or
 * milliseconds since the epoch. Returns ms since the epoch, or null when `raw` is neither.
 */
export function parseTime(raw: string): number | null {
  if (/^\d+$/.test(raw)) return Number(raw)
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw)) return null
  const ms = Date.parse(raw)
  return Number.isNaN(ms) ? null : ms
}

/**
 * `GET /docs/<name>?at=TIME` (docs/PROTOCOL.md sections 9 and 10): the document as it was at `at`
 * (ms since the epoch), as one Yjs v1 update (an empty document when it did not exist yet), or
 * `null` when the relay does not hold it. What a loaded copy applied is committed first, so the
 * answer covers every update this relay had received by `at`.
 * @throws RhizomeError HISTORY_UNAVAILABLE when `at` is older than `--history-ms` or in the future.
 * @throws RhizomeError STORE_CORRUPT when a record or history chunk is damaged.
 */
export async function documentAt(docs: DocRegistry, name: string, at: number): Promise<Uint8Array | null> {
  if (!(await isKnownDoc(docs, name))) return null
  await docs.whenCommitted(name)
  return docs.store.stateAt(name, at)
}
