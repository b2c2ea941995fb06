import { docNameProblem, ErrorCode, RhizomeError } from '@rhizome/protocol'
import { type CommandSpec, usageError } from './args.js'
import type { RelayEndpoint } from './relayUrl.js'

/** `rhizome delete`: how it is called. */
export const DELETE_SPEC: CommandSpec = {
  name: 'delete',
  usage: `Usage: rhizome delete URL DOC [--token T]

Deletes document DOC on every relay of the mesh of the relay at URL: the relay writes a tombstone
that replicates to its peers (DELETE /docs/<DOC>). From then on the document is refused (4410),
left out of /docs and of anti-entropy, and no refill or offline edit brings it back. Within
--history-ms of the delete, 'rhizome undelete' brings it back; after that its bytes are purged
from every relay's disk, and only its name and deletion time are kept.

  URL          a relay's base URL: ws://, wss://, http:// or https://host:port
  DOC          document name (not percent-encoded)
  --token T    admin token (or RHIZOME_TOKEN); needed where the relay has --auth-secret

Prints 'deleted DOC at <ISO time>'. Exit status: 0 deleted, 2 usage, connection or authorization error.
`,
  options: { '--token': 'value' },
  positionals: { min: 2, max: 2, names: 'URL DOC' },
}

/** `rhizome undelete`: how it is called. */
export const UNDELETE_SPEC: CommandSpec = {
  name: 'undelete',
  usage: `Usage: rhizome undelete URL DOC [--token T]

Brings deleted document DOC back on every relay of the mesh (POST /docs/<DOC>?undelete=1), with
every edit any relay had accepted before the delete. Possible within --history-ms of the delete.

  URL          a relay's base URL: ws://, wss://, http:// or https://host:port
  DOC          document name (not percent-encoded)
  --token T    admin token (or RHIZOME_TOKEN); needed where the relay has --auth-secret

Prints 'undeleted DOC'. Exit status: 0 undeleted, 2 not deleted, purged already, usage,
connection or authorization error.
`,
  options: { '--token': 'value' },
  positionals: { min: 2, max: 2, names: 'URL DOC' },
}

async function call(
  endpoint: RelayEndpoint,
  doc: string,
  method: 'DELETE' | 'POST',
  query: string,
  token: string | undefined,
): Promise<{ status: number; body: { at?: number; message?: string; error?: string } }> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const path = doc.split('/').map(encodeURIComponent).join('/')
  let res: Response
  try {
    res = await fetch(`${endpoint.http}/docs/${path}${query}`, {
      method,
      headers,
      signal: AbortSignal.timeout(60_000),
    })
  } catch (err) {
    throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${endpoint.input}: cannot reach the relay`, {
      cause: err,
    })
  }
  const body = ((await res.json().catch(() => ({}))) ?? {}) as {
    at?: number
    message?: string
    error?: string
  }
  if (res.status === 401)
    throw new RhizomeError(ErrorCode.AUTH_INVALID, `${endpoint.input}: the relay needs a valid admin token`)
  if (res.status === 403)
    throw new RhizomeError(
      ErrorCode.AUTH_FORBIDDEN,
      `${endpoint.input}: the token does not grant admin access`,
    )
  return { status: res.status, body }
}

function checkName(command: string, doc: string): void {
  const problem = docNameProblem(doc)
  if (problem !== null) throw usageError(command, `invalid document name: ${problem}`)
}

/**
 * Runs `delete`: prints `deleted DOC at <ISO time>` and returns 0.
 * @throws RhizomeError USAGE for a bad name; RELAY_UNAVAILABLE, AUTH_INVALID, AUTH_FORBIDDEN.
 */
export async function runDelete(
  endpoint: RelayEndpoint,
  doc: string,
  options: { token?: string },
  out: (line: string) => void,
): Promise<number> {
  checkName('delete', doc)
  const { status, body } = await call(endpoint, doc, 'DELETE', '', options.token)
  if (status !== 200 || typeof body.at !== 'number')
    throw new RhizomeError(
      ErrorCode.RELAY_UNAVAILABLE,
      `${endpoint.input}: delete answered HTTP ${status} ${body.message ?? ''}`.trim(),
    )
  out(`deleted ${doc} at ${new Date(body.at).toISOString()}`)
  return 0
}

/**
 * Runs `undelete`: prints `undeleted DOC` and returns 0; a document that is not deleted, or was
 * purged already, is an error (exit 2).
 * @throws RhizomeError USAGE for a bad name, DOC_DELETED once purged; RELAY_UNAVAILABLE, AUTH_INVALID, AUTH_FORBIDDEN.
 */
export async function runUndelete(
  endpoint: RelayEndpoint,
  doc: string,
  options: { token?: string },
  out: (line: string) => void,
): Promise<number> {
  checkName('undelete', doc)
  const { status, body } = await call(endpoint, doc, 'POST', '?undelete=1', options.token)
  if (status === 404) throw usageError('undelete', `${doc} is not deleted`)
  if (status === 410)
    throw new RhizomeError(
      ErrorCode.DOC_DELETED,
      `${doc} was deleted longer than --history-ms ago and is purged`,
    )
  if (status !== 200)
    throw new RhizomeError(
      ErrorCode.RELAY_UNAVAILABLE,
      `${endpoint.input}: undelete answered HTTP ${status} ${body.message ?? ''}`.trim(),
    )
  out(`undeleted ${doc}`)
  return 0
}
