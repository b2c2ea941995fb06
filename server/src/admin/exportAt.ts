import { digestOfUpdate } from '@rhizome/protocol'
import { docApiRequest } from './docApiRequest.js'
import { writeAtomically, writeStdout } from './exportImport.js'
import type { RelayEndpoint } from './relayUrl.js'

/**
 * The document as it was at `at` (ms since the epoch), as one Yjs v1 update
 * (`GET /docs/<name>?at=TIME`, docs/PROTOCOL.md section 10).
 * @throws RhizomeError as `docApiRequest`: USAGE for an unknown document or a moment outside the
 *   relay's history.
 */
export async function exportDocAt(
  endpoint: RelayEndpoint,
  doc: string,
  at: number,
  options: { token?: string; timeoutMs: number },
): Promise<Uint8Array> {
  const res = await docApiRequest(endpoint, doc, { method: 'GET', query: { at: String(at) }, ...options })
  return new Uint8Array(await res.arrayBuffer())
}

/** Runs `export --at`; returns the exit status. Output as `export` without `--at`. */
export async function runExportAt(
  endpoint: RelayEndpoint,
  doc: string,
  at: number,
  options: { token?: string; timeoutMs: number; out?: string },
  out: (line: string) => void,
): Promise<number> {
  const update = await exportDocAt(endpoint, doc, at, options)
  if (options.out === undefined) {
    await writeStdout(update)
    return 0
  }
  await writeAtomically(options.out, update)
  const when = new Date(at).toISOString()
  out(
    `exported ${doc} as of ${when} to ${options.out}: ${update.length} bytes, digest ${digestOfUpdate(update)}`,
  )
  return 0
}
