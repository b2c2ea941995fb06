import * as Y from 'yjs'

/** One restore point of a note on one relay (docs/PROTOCOL.md section 10, `?history=1`). */
export interface RestorePoint {
  /** The relay's receive time, ms since the epoch: any such moment can be restored. */
  at: number
  /** Update bytes the relay received in that minute (hour, for history older than a day). */
  bytes: number
  /** The supervised relay (1-based) whose clock `at` is on: reverts go to the same relay. */
  relay: number
}

/** A control-server call that failed, with the relay's error code when it gave one. */
export class DocApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message)
  }
}

const WRITE = { 'x-rhizome-demo': '1' }

/**
 * The note's restore points, newest first, as the first running relay lists them
 * (`GET /api/history`, see demo/scripts/relayDocApi.mjs).
 * @throws DocApiError when no relay answers (503) or the note is unknown there (404).
 */
export async function fetchRestorePoints(doc: string): Promise<RestorePoint[]> {
  const res = await call('GET', `/api/history?doc=${encodeURIComponent(doc)}`)
  const body = (await res.json()) as { relay: number; points: { at: number; bytes: number }[] }
  return body.points.map((p) => ({ at: p.at, bytes: p.bytes, relay: body.relay }))
}

/**
 * The text (`body` Y.Text) of the note as the point's relay held it at that moment
 * (`GET /docs/<name>?at=`, through `/api/version`).
 * @throws DocApiError when the relay does not answer or no longer keeps that moment.
 */
export async function fetchTextAt(doc: string, point: RestorePoint): Promise<string> {
  const res = await call('GET', `/api/version?${pointQuery(doc, point)}`)
  const ydoc = new Y.Doc()
  try {
    Y.applyUpdate(ydoc, new Uint8Array(await res.arrayBuffer()))
    return ydoc.getText('body').toString()
  } finally {
    ydoc.destroy()
  }
}

/**
 * Makes the note's content what it was at the point, by one forward update on the point's relay
 * (`POST /docs/<name>?revert=`) that replicates like any edit; resolves with the relay stores
 * holding it durably.
 * @throws DocApiError when the relay does not answer or refuses.
 */
export async function revertTo(doc: string, point: RestorePoint): Promise<number> {
  const res = await call('POST', `/api/revert?${pointQuery(doc, point)}`, WRITE)
  return ((await res.json()) as { copies: number }).copies
}

/**
 * Deletes the note on every relay (`DELETE /docs/<name>`: a tombstone the mesh replicates; devices
 * drop the note from their stores). Resolves with the delete's time once the tombstone is durable.
 * @throws DocApiError when no relay runs or the relay refuses.
 */
export async function deleteEverywhere(doc: string): Promise<number> {
  const res = await call('DELETE', `/api/doc?doc=${encodeURIComponent(doc)}`, WRITE)
  return ((await res.json()) as { at: number }).at
}

function pointQuery(doc: string, point: RestorePoint): string {
  return new URLSearchParams({ doc, at: String(point.at), relay: String(point.relay) }).toString()
}

async function call(method: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  let res: Response
  try {
    res = await fetch(path, { method, headers, cache: 'no-store' })
  } catch (err) {
    throw new DocApiError(`${path}: ${err instanceof Error ? err.message : String(err)}`, 0, null)
  }
  if (res.ok) return res
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string }
  throw new DocApiError(
    body.message ?? `${method} ${path} answered ${res.status}`,
    res.status,
    body.error ?? null,
  )
}
