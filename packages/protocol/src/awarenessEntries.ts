import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ErrorCode, RhizomeError } from './errors.js'
import { readSafeVarUint } from './wireReads.js'

/**
 * One client's entry in a y-protocols/awareness update, the payload of an AWARENESS message
 * (`docs/PROTOCOL.md` section 3). `state` is the JSON text as sent; `'null'` means the client left.
 */
export interface AwarenessEntry {
  clientID: number
  clock: number
  state: string
}

function malformed(detail: string, cause?: unknown): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed awareness update: ${detail}`, { cause })
}

const readSafe = (d: decoding.Decoder) => readSafeVarUint(d, malformed)

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Reads a varString strictly: a length past the end (lib0 would read on into the underlying
 * buffer) or bytes that are not UTF-8 are malformed.
 */
function readString(d: decoding.Decoder): string {
  const len = readSafe(d)
  if (len > d.arr.length - d.pos) throw malformed('string past the end of the update')
  try {
    return utf8.decode(decoding.readUint8Array(d, len))
  } catch (cause) {
    throw malformed('state is not UTF-8', cause)
  }
}

/**
 * Encodes entries as a y-protocols/awareness update (`varUint count`, then per entry
 * `varUint clientID`, `varUint clock`, `varString state`), byte for byte what
 * `encodeAwarenessUpdate` of y-protocols writes for the same states.
 * @throws TypeError when a client id or clock is not a non-negative safe integer.
 */
export function encodeAwarenessEntries(entries: readonly AwarenessEntry[]): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const { clientID, clock, state } of entries) {
    if (!Number.isSafeInteger(clientID) || clientID < 0 || !Number.isSafeInteger(clock) || clock < 0) {
      throw new TypeError(`awareness entry needs non-negative integers, got ${clientID}/${clock}`)
    }
    encoding.writeVarUint(e, clientID)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, state)
  }
  return encoding.toUint8Array(e)
}

/**
 * Decodes a y-protocols/awareness update into its entries without applying it (so a caller can see
 * which clients a peer knows about before y-protocols changes any state). The JSON states are not
 * parsed. Strict: truncation and trailing bytes raise `RhizomeError` PROTOCOL_MALFORMED.
 */
export function decodeAwarenessEntries(update: Uint8Array): AwarenessEntry[] {
  const d = decoding.createDecoder(update)
  const entries: AwarenessEntry[] = []
  try {
    const count = readSafe(d)
    // Each entry takes at least three bytes: a count past that is a lie, refused before looping.
    if (count > (update.length - d.pos) / 3) throw malformed(`${count} entries cannot fit`)
    for (let i = 0; i < count; i++) {
      const clientID = readSafe(d)
      const clock = readSafe(d)
      entries.push({ clientID, clock, state: readString(d) })
    }
  } catch (err) {
    if (err instanceof RhizomeError) throw err
    throw malformed('truncated update', err)
  }
  if (d.pos !== update.length) throw malformed(`${update.length - d.pos} trailing bytes`)
  return entries
}
