import { docNameProblem, ErrorCode, encodeDocName, RhizomeError } from '@rhizome/protocol'
import type { RelayEndpoint } from './relayUrl.js'

/** One request to a relay's HTTP document API (docs/PROTOCOL.md section 10). */
export interface DocApiCall {
  method: 'GET' | 'POST'
  /** Query parameters of `/docs/<name>`. */
  query: Record<string, string>
  token?: string
  timeoutMs: number
}

/** The relay's JSON error body, when it sent one. */
async function relayMessage(res: Response): Promise<string | null> {
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown }
    if (typeof body.message === 'string') return body.message
    return typeof body.error === 'string' ? body.error : null
  } catch {
    return null
  }
}

/**
 * Sends one request to `/docs/<doc>` and returns the 200 answer. Every other outcome is an error
 * with one line naming the problem, so the admin command exits 2 (docs/PROTOCOL.md section 8):
 * @throws RhizomeError USAGE for a bad document name, an unknown document (404 `NOT_FOUND`), a
 *   moment outside the history (404 `HISTORY_UNAVAILABLE`) or a time the relay refused (400);
 *   AUTH_INVALID (401); AUTH_FORBIDDEN (403); TIMEOUT (no answer in time, or 504: fewer copies
 *   than asked); RELAY_UNAVAILABLE (unreachable, any other
 *   status).
 */
export async function docApiRequest(
  endpoint: RelayEndpoint,
  doc: string,
  call: DocApiCall,
): Promise<Response> {
  const problem = docNameProblem(doc)
  if (problem !== null) throw new RhizomeError(ErrorCode.USAGE, `invalid document name '${doc}': ${problem}`)
  const headers: Record<string, string> = {}
  if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`
  const query = new URLSearchParams(call.query)
  const url = `${endpoint.http}/docs/${encodeDocName(doc)}?${query}`
  let res: Response
  try {
    res = await fetch(url, { method: call.method, headers, signal: AbortSignal.timeout(call.timeoutMs) })
  } catch (err) {
    if ((err as Error).name === 'TimeoutError')
      throw new RhizomeError(ErrorCode.TIMEOUT, `${endpoint.input}: no answer within ${call.timeoutMs} ms`)
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
  if (res.status === 200) return res
  const message = await relayMessage(res)
  const where = `${endpoint.input} ${doc}`
  switch (res.status) {
    case 400:
      throw new RhizomeError(ErrorCode.USAGE, `${where}: ${message ?? 'bad request'}`)
    case 401:
      throw new RhizomeError(
        ErrorCode.AUTH_INVALID,
        `${where}: the relay needs a valid token (--token or RHIZOME_TOKEN)`,
      )
    case 403:
      throw new RhizomeError(ErrorCode.AUTH_FORBIDDEN, `${where}: the token does not grant this access`)
    case 404:
      if (message === 'NOT_FOUND' || message === null)
        throw new RhizomeError(ErrorCode.USAGE, `${where}: the relay holds no such document`)
      throw new RhizomeError(ErrorCode.USAGE, `${where}: ${message}`)
    case 504:
      // POST ?copies=k: applied and durable here, but fewer relays confirmed it in the relay's wait.
      throw new RhizomeError(
        ErrorCode.TIMEOUT,
        `${where}: applied, but fewer relays than asked confirmed it in time`,
      )
    default:
      throw new RhizomeError(
        ErrorCode.RELAY_UNAVAILABLE,
        `${where}: the relay answered HTTP ${res.status}${message ? ` (${message})` : ''}`,
      )
  }
}
