import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { CommandSpec } from './args.js'
import { docApiRequest } from './docApiRequest.js'
import type { RelayEndpoint } from './relayUrl.js'

/** `rhizome revert`: how it is called. */
export const REVERT_SPEC: CommandSpec = {
  name: 'revert',
  usage: `Usage: rhizome revert URL DOC --to TIME [--token T] [--copies K] [--timeout MS]

Makes the content of document DOC on the relay at URL equal to its content at TIME, through one
new forward update that the relay applies like any edit: it replicates to every relay and device,
edits made meanwhile merge with it, and nothing stored is rewritten, so a revert can itself be
reverted. Waits until the relay reports the update durable (ACK) in at least K relay stores and
prints the copies.

  URL            a relay's base URL: ws://, wss://, http:// or https://host:port
  DOC            document name (not percent-encoded)
  --to TIME      ISO 8601 (2026-12-01T14:03:00Z) or ms since the epoch, within the relay's
                 --history-ms and not in the future (see rhizome history)
  --token T      token granting write access to DOC (or RHIZOME_TOKEN)
  --copies K     wait until K relays hold it durably (default 1: this relay; at most 10 s)
  --timeout MS   give up after MS milliseconds (default 60000)

Exit status: 0 reverted and durable, 2 usage, bad or unavailable TIME, unknown document,
connection or authorization error (nothing is changed then).
`,
  options: { '--to': 'value', '--token': 'value', '--copies': 'value', '--timeout': 'value' },
  positionals: { min: 2, max: 2, names: 'URL DOC' },
}

/**
 * Asks the relay to revert the document to `to` (`POST /docs/<name>?revert=TIME`, docs/PROTOCOL.md
 * section 10) and waits for `copies` durable copies.
 * @returns the copies the relay reported.
 * @throws RhizomeError as `docApiRequest`; RELAY_UNAVAILABLE when the copies were not reached.
 */
export async function revertDoc(
  endpoint: RelayEndpoint,
  doc: string,
  to: number,
  options: { token?: string; timeoutMs: number; copies: number },
): Promise<number> {
  const res = await docApiRequest(endpoint, doc, {
    method: 'POST',
    query: { revert: String(to), copies: String(options.copies) },
    token: options.token,
    timeoutMs: options.timeoutMs,
  })
  const body = (await res.json().catch(() => null)) as { copies?: unknown } | null
  if (typeof body?.copies !== 'number')
    throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${endpoint.input}: malformed revert answer`)
  return body.copies
}

/** Runs `revert`; returns the exit status. */
export async function runRevert(
  endpoint: RelayEndpoint,
  doc: string,
  to: number,
  options: { token?: string; timeoutMs: number; copies: number },
  out: (line: string) => void,
): Promise<number> {
  const copies = await revertDoc(endpoint, doc, to, options)
  out(`reverted ${doc} on ${endpoint.input} to ${new Date(to).toISOString()}: durable on ${copies} relay(s)`)
  return 0
}
