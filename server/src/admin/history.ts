import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { CommandSpec } from './args.js'
import { docApiRequest } from './docApiRequest.js'
import type { RelayEndpoint } from './relayUrl.js'

/** `rhizome history`: how it is called. */
export const HISTORY_SPEC: CommandSpec = {
  name: 'history',
  usage: `Usage: rhizome history URL DOC [--token T] [--timeout MS]

Lists the restore points the relay at URL keeps of document DOC, newest first, one line each:
the ISO-8601 time (to the millisecond), a tab, then the bytes of the updates received in that
minute (in that hour, for history older than a day). Any listed time, or any other moment within
the relay's --history-ms, can be given to 'rhizome export --at' or 'rhizome revert --to'.

  URL            a relay's base URL: ws://, wss://, http:// or https://host:port
  DOC            document name, as clients open it (not percent-encoded)
  --token T      token granting read access to DOC (or RHIZOME_TOKEN)
  --timeout MS   give up after MS milliseconds (default 60000)

Exit status: 0 listed, 2 usage, unknown document, connection or authorization error.
`,
  options: { '--token': 'value', '--timeout': 'value' },
  positionals: { min: 2, max: 2, names: 'URL DOC' },
}

/** One restore point as `GET /docs/<name>?history=1` lists it. */
export interface RestorePointLine {
  at: number
  bytes: number
}

/**
 * Fetches the document's restore points, newest first (docs/PROTOCOL.md section 10, `?history=1`).
 * @throws RhizomeError as `docApiRequest`, and RELAY_UNAVAILABLE for an answer that is not a list.
 */
export async function fetchHistory(
  endpoint: RelayEndpoint,
  doc: string,
  options: { token?: string; timeoutMs: number },
): Promise<RestorePointLine[]> {
  const res = await docApiRequest(endpoint, doc, { method: 'GET', query: { history: '1' }, ...options })
  const body = (await res.json().catch(() => null)) as { points?: unknown } | null
  const points = body?.points
  if (
    !Array.isArray(points) ||
    !points.every((p) => typeof p?.at === 'number' && typeof p?.bytes === 'number')
  ) {
    throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${endpoint.input}: malformed history answer`)
  }
  return points as RestorePointLine[]
}

/** Runs `history`; returns the exit status. */
export async function runHistory(
  endpoint: RelayEndpoint,
  doc: string,
  options: { token?: string; timeoutMs: number },
  out: (line: string) => void,
): Promise<number> {
  for (const point of await fetchHistory(endpoint, doc, options)) {
    out(`${new Date(point.at).toISOString()}\t${point.bytes}`)
  }
  return 0
}
