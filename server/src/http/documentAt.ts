import type { DocStore } from '@rhizome/store'

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
 * (ms since the epoch), as one Yjs v1 update; `null` when it did not exist then; `undefined` while
 * the store keeps no history, which the HTTP API answers with 501 `{"error":"HISTORY_UNAVAILABLE"}`.
 *
 * HISTORY: this is the one place to change once the store keeps history: return
 * `store.stateAt(name, at)` here.
 */
export async function documentAt(
  _store: DocStore,
  _name: string,
  _at: number,
): Promise<Uint8Array | null | undefined> {
  return undefined
}
