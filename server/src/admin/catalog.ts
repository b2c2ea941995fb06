import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { RelayEndpoint } from './relayUrl.js'

/** One document as a relay's `/docs` lists it (docs/PROTOCOL.md section 1). */
export interface CatalogDoc {
  name: string
  /** Replica digest; `null` when the relay holds the document but cannot serve it (corrupt). */
  digest: string | null
  bytes: number
}

interface Page {
  docs: CatalogDoc[]
  next: string | null
}

/** Largest page a relay serves (`MAX_DOCS_PAGE` of the relay). */
export const DEFAULT_PAGE_SIZE = 1000

function parsePage(body: unknown, where: string): Page {
  const page = body as { docs?: unknown; next?: unknown }
  if (typeof page !== 'object' || page === null || !Array.isArray(page.docs)) {
    throw new RhizomeError(
      ErrorCode.RELAY_UNAVAILABLE,
      `${where}: /docs answered something that is not a catalog page`,
    )
  }
  const docs: CatalogDoc[] = []
  for (const d of page.docs as { name?: unknown; digest?: unknown; bytes?: unknown }[]) {
    if (
      typeof d?.name !== 'string' ||
      (d.digest !== null && typeof d.digest !== 'string') ||
      typeof d.bytes !== 'number'
    ) {
      throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${where}: /docs listed a malformed entry`)
    }
    docs.push({ name: d.name, digest: d.digest, bytes: d.bytes })
  }
  if (page.next !== null && typeof page.next !== 'string') {
    throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${where}: /docs answered a malformed 'next'`)
  }
  return { docs, next: page.next }
}

/**
 * Orders document names as relays list them: by UTF-8 bytes (LevelDB's key order), which is not
 * JavaScript's UTF-16 order for every string.
 */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * Fetches one `/docs` page.
 * @throws RhizomeError RELAY_UNAVAILABLE (unreachable or unexpected answer), AUTH_INVALID (401),
 * AUTH_FORBIDDEN (403).
 */
export async function fetchCatalogPage(
  endpoint: RelayEndpoint,
  options: { after?: string; limit: number; token?: string },
): Promise<Page> {
  const query = new URLSearchParams({ limit: String(options.limit) })
  if (options.after !== undefined) query.set('after', options.after)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let res: Response
  try {
    res = await fetch(`${endpoint.http}/docs?${query}`, { headers, signal: AbortSignal.timeout(60_000) })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))
    throw new RhizomeError(
      ErrorCode.RELAY_UNAVAILABLE,
      `${endpoint.input}: cannot reach the relay (${detail})`,
      {
        cause: err,
      },
    )
  }
  if (res.status === 401) {
    throw new RhizomeError(
      ErrorCode.AUTH_INVALID,
      `${endpoint.input}: the relay needs a valid admin token (--token or RHIZOME_TOKEN)`,
    )
  }
  if (res.status === 403) {
    throw new RhizomeError(
      ErrorCode.AUTH_FORBIDDEN,
      `${endpoint.input}: the token does not grant admin access`,
    )
  }
  if (res.status !== 200) {
    throw new RhizomeError(
      ErrorCode.RELAY_UNAVAILABLE,
      `${endpoint.input}: /docs answered HTTP ${res.status}`,
    )
  }
  let body: unknown
  try {
    body = await res.json()
  } catch (err) {
    throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${endpoint.input}: /docs answered invalid JSON`, {
      cause: err,
    })
  }
  return parsePage(body, endpoint.input)
}

/**
 * Streams a relay's whole catalog in name order, one page in memory plus the next one in flight
 * (so 100,000 documents need no more memory than two pages).
 * @throws RhizomeError as {@link fetchCatalogPage}, and RELAY_UNAVAILABLE when the relay's pages
 * are not in strictly increasing name order (a merge over them would be wrong).
 */
export async function* streamCatalog(
  endpoint: RelayEndpoint,
  options: { token?: string; pageSize?: number } = {},
): AsyncGenerator<CatalogDoc> {
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE
  const get = (after?: string) => fetchCatalogPage(endpoint, { after, limit, token: options.token })
  let pending: Promise<Page> | null = get()
  let previous: string | undefined
  while (pending) {
    const page: Page = await pending
    // Prefetch the following page while the caller consumes this one.
    pending = page.next !== null ? get(page.next) : null
    // A rejected prefetch that nobody awaits yet must not crash the process as unhandled.
    pending?.catch(() => {})
    for (const doc of page.docs) {
      if (previous !== undefined && compareNames(doc.name, previous) <= 0) {
        throw new RhizomeError(
          ErrorCode.RELAY_UNAVAILABLE,
          `${endpoint.input}: /docs is not in name order ('${doc.name}' after '${previous}')`,
        )
      }
      previous = doc.name
      yield doc
    }
  }
}
