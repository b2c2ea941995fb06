import { randomBytes } from 'node:crypto'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import {
  digestOfUpdate,
  docNameProblem,
  EMPTY_STATE_VECTOR,
  ErrorCode,
  encodeSyncStep1,
  encodeSyncUpdate,
  RhizomeError,
} from '@rhizome/protocol'
import * as Y from 'yjs'
import type { CommandSpec } from './args.js'
import { DocSocket } from './DocSocket.js'
import { docSocketUrl, type RelayEndpoint } from './relayUrl.js'

/** `rhizome export`: how it is called. */
export const EXPORT_SPEC: CommandSpec = {
  name: 'export',
  usage: `Usage: rhizome export URL DOC [--at TIME] [--out FILE] [--token T] [--timeout MS]

Downloads document DOC from the relay at URL over the WebSocket protocol and writes it as one
Yjs update (Y.encodeStateAsUpdate, v1 encoding): to FILE with --out (written atomically, then a
line with its size and digest on stdout), else the raw bytes to stdout. A document the relay
does not hold exports as an empty update, with a warning on stderr.

  URL            a relay's base URL: ws://, wss://, http:// or https://host:port
  DOC            document name, as clients open it (not percent-encoded)
  --out FILE     write to FILE instead of stdout
  --at TIME      the document as it was at TIME instead (ISO 8601 or ms since the epoch, within
                 the relay's --history-ms; see rhizome history), fetched over HTTP; an unknown
                 document is then an error
  --token T      token granting read access to DOC (or RHIZOME_TOKEN)
  --timeout MS   give up after MS milliseconds (default 60000)

Exit status: 0 written, 2 usage, connection or authorization error.
`,
  options: { '--out': 'value', '--at': 'value', '--token': 'value', '--timeout': 'value' },
  positionals: { min: 2, max: 2, names: 'URL DOC' },
}

/** `rhizome import`: how it is called. */
export const IMPORT_SPEC: CommandSpec = {
  name: 'import',
  usage: `Usage: rhizome import URL DOC FILE [--token T] [--copies K] [--timeout MS]

Merges the Yjs update in FILE (as written by rhizome export) into document DOC on the relay at
URL, over the WebSocket protocol. It is a CRDT merge, never a replace: whatever the document
already holds stays, and importing the same file twice changes nothing. Exits 0 once the relay
has acknowledged the update as durable (ACK) in at least K relay stores.

  URL            a relay's base URL: ws://, wss://, http:// or https://host:port
  DOC            document name (not percent-encoded)
  FILE           a Yjs v1 update
  --token T      token granting write access to DOC (or RHIZOME_TOKEN)
  --copies K     wait until K relays hold it durably (default 1: this relay)
  --timeout MS   give up after MS milliseconds (default 60000)

Exit status: 0 merged and durable, 2 usage, bad file, connection, authorization error or timeout.
`,
  options: { '--token': 'value', '--copies': 'value', '--timeout': 'value' },
  positionals: { min: 3, max: 3, names: 'URL DOC FILE' },
}

/** The state vector of an empty document: a step1 with it asks for everything. */

function checkDocName(doc: string): void {
  const problem = docNameProblem(doc)
  if (problem !== null) throw new RhizomeError(ErrorCode.USAGE, `invalid document name '${doc}': ${problem}`)
}

/** True when a v1 update carries no structs and no deletions. */
function isEmptyUpdate(update: Uint8Array): boolean {
  const decoded = Y.decodeUpdate(update)
  return decoded.structs.length === 0 && decoded.ds.clients.size === 0
}

/** Options of {@link exportDoc} and {@link importDoc}. */
export interface DocTransferOptions {
  token?: string
  timeoutMs: number
}

/**
 * Fetches the whole document as one v1 update: sends SYNC step1 with an empty state vector and
 * returns the relay's step2, which is `Y.encodeStateAsUpdate` of its replica.
 * @throws RhizomeError USAGE (bad name), RELAY_UNAVAILABLE, AUTH_INVALID, AUTH_FORBIDDEN, TIMEOUT.
 */
export async function exportDoc(
  endpoint: RelayEndpoint,
  doc: string,
  options: DocTransferOptions,
): Promise<Uint8Array> {
  checkDocName(doc)
  const where = `${endpoint.input} ${doc}`
  const socket = await DocSocket.open(docSocketUrl(endpoint, doc, options.token), where, options.timeoutMs)
  try {
    const reply = socket.waitFor((m) => m.type === 'sync-step2', 'sync step2', options.timeoutMs)
    socket.send(encodeSyncStep1(EMPTY_STATE_VECTOR))
    const message = await reply
    if (message.type !== 'sync-step2') throw new TypeError('unreachable')
    return message.update.slice()
  } finally {
    await socket.close()
  }
}

/**
 * Sends `update` as one SYNC update and waits for the relay's ACK covering it (message 1 of this
 * socket) with at least `copies` durable copies. The relay merges it (Yjs CRDT merge).
 * @throws RhizomeError USAGE (bad name or not a Yjs update), RELAY_UNAVAILABLE, AUTH_INVALID,
 * AUTH_FORBIDDEN (read-only token), PROTOCOL_TOO_LARGE, TIMEOUT.
 * @returns the copies reported by the ACK.
 */
export async function importDoc(
  endpoint: RelayEndpoint,
  doc: string,
  update: Uint8Array,
  options: DocTransferOptions & { copies: number },
): Promise<number> {
  checkDocName(doc)
  try {
    Y.decodeUpdate(update)
  } catch (cause) {
    throw new RhizomeError(ErrorCode.USAGE, 'the file is not a Yjs v1 update', { cause })
  }
  const where = `${endpoint.input} ${doc}`
  const socket = await DocSocket.open(docSocketUrl(endpoint, doc, options.token), where, options.timeoutMs)
  try {
    // The relay counts SYNC step2/update messages from 1; this socket sends exactly one.
    const acked = socket.waitFor(
      (m) => m.type === 'ack' && m.n >= 1 && m.copies >= options.copies,
      `ACK with ${options.copies} copies`,
      options.timeoutMs,
    )
    socket.send(encodeSyncUpdate(update))
    const ack = await acked
    return ack.type === 'ack' ? ack.copies : 0
  } finally {
    await socket.close()
  }
}

/**
 * Writes `data` to `path` through a temp file and a rename, so a failed export leaves no partial file.
 * @throws RhizomeError USAGE naming `--out` when the file cannot be written.
 */
export async function writeAtomically(path: string, data: Uint8Array): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(temp, data, { flush: true })
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw new RhizomeError(ErrorCode.USAGE, `--out ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** Writes `data` to stdout and resolves once it is handed to the pipe or terminal. */
export async function writeStdout(data: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(data, (err) => (err ? reject(err) : resolve())),
  )
}

/** Runs `export`; returns the exit status. */
export async function runExport(
  endpoint: RelayEndpoint,
  doc: string,
  options: DocTransferOptions & { out?: string },
  out: (line: string) => void,
  warn: (line: string) => void,
): Promise<number> {
  const update = await exportDoc(endpoint, doc, options)
  if (isEmptyUpdate(update)) warn(`export: warning: ${doc} is empty or unknown on ${endpoint.input}`)
  if (options.out === undefined) {
    await writeStdout(update)
    return 0
  }
  await writeAtomically(options.out, update)
  out(`exported ${doc} to ${options.out}: ${update.length} bytes, digest ${digestOfUpdate(update)}`)
  return 0
}

/** Runs `import`; returns the exit status. */
export async function runImport(
  endpoint: RelayEndpoint,
  doc: string,
  file: string,
  options: DocTransferOptions & { copies: number },
  out: (line: string) => void,
): Promise<number> {
  let update: Uint8Array
  try {
    update = await readFile(file)
  } catch (err) {
    throw new RhizomeError(ErrorCode.USAGE, `cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  const copies = await importDoc(endpoint, doc, update, options)
  out(
    `imported ${file} into ${doc} on ${endpoint.input}: ${update.length} bytes, durable on ${copies} relay(s)`,
  )
  return 0
}
