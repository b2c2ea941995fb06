import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { RelayEndpoint } from './relayUrl.js'

/** Largest page of `/docs?deleted=1` a relay serves. */
const PAGE = 1000

/**
 * Every tombstone a relay lists (`GET /docs?deleted=1`, docs/PROTOCOL.md section 9): document name
 * to deletion time. Tombstones are a name and a time each, so all of them fit in memory.
 * @throws RhizomeError RELAY_UNAVAILABLE (unreachable or unexpected answer), AUTH_INVALID (401),
 * AUTH_FORBIDDEN (403).
 */
export async function fetchTombstones(endpoint: RelayEndpoint, token?: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let after: string | null = null
  do {
    const query = new URLSearchParams({ deleted: '1', limit: String(PAGE) })
    if (after !== null) query.set('after', after)
    let res: Response
    try {
      res = await fetch(`${endpoint.http}/docs?${query}`, { headers, signal: AbortSignal.timeout(60_000) })
    } catch (err) {
      throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${endpoint.input}: cannot reach the relay`, {
        cause: err,
      })
    }
    if (res.status === 401)
      throw new RhizomeError(ErrorCode.AUTH_INVALID, `${endpoint.input}: the relay needs a valid admin token`)
    if (res.status === 403)
      throw new RhizomeError(
        ErrorCode.AUTH_FORBIDDEN,
        `${endpoint.input}: the token does not grant admin access`,
      )
    if (res.status !== 200)
      throw new RhizomeError(
        ErrorCode.RELAY_UNAVAILABLE,
        `${endpoint.input}: /docs?deleted=1 answered HTTP ${res.status}`,
      )
    const body = (await res.json().catch(() => null)) as { docs?: unknown; next?: unknown } | null
    if (!body || !Array.isArray(body.docs) || (body.next !== null && typeof body.next !== 'string')) {
      throw new RhizomeError(
        ErrorCode.RELAY_UNAVAILABLE,
        `${endpoint.input}: /docs?deleted=1 answered something else than a page`,
      )
    }
    for (const d of body.docs as { name?: unknown; at?: unknown }[]) {
      if (typeof d?.name !== 'string' || typeof d.at !== 'number')
        throw new RhizomeError(
          ErrorCode.RELAY_UNAVAILABLE,
          `${endpoint.input}: /docs?deleted=1 listed a malformed entry`,
        )
      out.set(d.name, d.at)
    }
    after = body.next as string | null
  } while (after !== null)
  return out
}
