import { ErrorCode, encodeDocName, RhizomeError } from '@rhizome/protocol'

/** A relay's base URL in both forms the admin commands need. */
export interface RelayEndpoint {
  /** As the operator typed it (for messages). */
  readonly input: string
  /** `http(s)://host:port[/prefix]`, no trailing slash: for `/docs` and `/healthz`. */
  readonly http: string
  /** `ws(s)://host:port[/prefix]`, no trailing slash: for document sockets. */
  readonly ws: string
}

const schemes: Record<string, { http: string; ws: string }> = {
  'ws:': { http: 'http:', ws: 'ws:' },
  'http:': { http: 'http:', ws: 'ws:' },
  'wss:': { http: 'https:', ws: 'wss:' },
  'https:': { http: 'https:', ws: 'wss:' },
}

/**
 * Parses a relay base URL: `ws://`, `http://`, `wss://` or `https://`, host and port, optionally a
 * path prefix (a relay behind a reverse proxy); no query or fragment.
 * @throws RhizomeError USAGE naming the URL when it is none of these.
 */
export function parseRelayUrl(raw: string): RelayEndpoint {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new RhizomeError(
      ErrorCode.USAGE,
      `'${raw}' is not a URL (expected ws://host:port or http://host:port)`,
    )
  }
  const scheme = schemes[url.protocol]
  if (!scheme) {
    throw new RhizomeError(ErrorCode.USAGE, `'${raw}' must be a ws://, wss://, http:// or https:// URL`)
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new RhizomeError(
      ErrorCode.USAGE,
      `'${raw}' must be a base URL without query, fragment or credentials (use --token)`,
    )
  }
  const rest = `//${url.host}${url.pathname.replace(/\/+$/, '')}`
  return { input: raw, http: scheme.http + rest, ws: scheme.ws + rest }
}

/** The socket URL of one document: `ws(s)://host:port/<encoded doc>?rhizome=1[&token=T]`. */
export function docSocketUrl(endpoint: RelayEndpoint, doc: string, token?: string): string {
  const query = new URLSearchParams({ rhizome: '1' })
  if (token !== undefined) query.set('token', token)
  return `${endpoint.ws}/${encodeDocName(doc)}?${query}`
}
