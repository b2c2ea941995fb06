import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * Deepest nesting of arrays and objects an awareness state may have. Presence states are small
 * flat records (user name, colour, cursor); 20,000 nested arrays parse fine but overflow the stack
 * in `JSON.stringify`, which the relay calls for every socket that later asks for the states.
 */
export const MAX_AWARENESS_DEPTH = 32

/** One entry of a y-protocols awareness update: a client's state (null: removed) at a clock. */
export interface AwarenessEntry {
  readonly clientID: number
  readonly clock: number
  /** The parsed state; `null` removes the client's state. */
  readonly state: unknown
  /** The state as it was on the wire (valid JSON that re-encodes). */
  readonly json: string
}

/** Limits {@link decodeAwarenessUpdate} enforces. */
export interface AwarenessLimits {
  /** Largest update, in bytes; every state JSON is inside it, so this bounds each state too. */
  readonly maxBytes: number
  /** Deepest nesting of a state; {@link MAX_AWARENESS_DEPTH} by default. */
  readonly maxDepth?: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function malformed(detail: string, cause?: unknown): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed awareness update: ${detail}`, { cause })
}

/** lib0 silently loses precision past 2^53; a clientID or clock that does is not one. */
function readSafeVarUint(d: decoding.Decoder): number {
  const n = decoding.readVarUint(d)
  if (!Number.isSafeInteger(n)) throw malformed('varint out of range')
  return n
}

/** Reads a varString strictly: a length past the end or invalid UTF-8 is malformed. */
function readString(d: decoding.Decoder): string {
  const len = readSafeVarUint(d)
  if (len > d.arr.length - d.pos) throw malformed('length prefix past the end of the update')
  try {
    return utf8.decode(decoding.readUint8Array(d, len))
  } catch (cause) {
    throw malformed('state is not UTF-8', cause)
  }
}

/**
 * Throws when `json` nests arrays/objects deeper than `maxDepth`. A linear scan before parsing, so
 * a hostile state costs one pass over at most `maxBytes` characters and no parse tree.
 */
function checkDepth(json: string, maxDepth: number): void {
  let depth = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) throw malformed(`state nests deeper than ${maxDepth}`)
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--
  }
}

/**
 * Decodes and validates a y-protocols awareness update (`varUint count`, then per entry `varUint
 * clientID`, `varUint clock`, `varString` state JSON) before anything of it is applied, stored or
 * relayed. Every entry must be complete and its state JSON must parse, nest at most `maxDepth`
 * deep, and re-encode with `JSON.stringify`; nothing may follow the last entry.
 * @returns the entries in wire order (duplicates kept: y-protocols applies them in turn).
 * @throws RhizomeError PROTOCOL_TOO_LARGE (close 4413) for an update over `maxBytes`;
 *   PROTOCOL_MALFORMED (close 4400) for anything else that is wrong, naming no state content.
 */
export function decodeAwarenessUpdate(update: Uint8Array, limits: AwarenessLimits): AwarenessEntry[] {
  if (update.length > limits.maxBytes) {
    throw new RhizomeError(ErrorCode.PROTOCOL_TOO_LARGE, 'awareness update too large')
  }
  const maxDepth = limits.maxDepth ?? MAX_AWARENESS_DEPTH
  const d = decoding.createDecoder(update)
  const entries: AwarenessEntry[] = []
  try {
    const count = readSafeVarUint(d)
    for (let i = 0; i < count; i++) {
      const clientID = readSafeVarUint(d)
      const clock = readSafeVarUint(d)
      const json = readString(d)
      checkDepth(json, maxDepth)
      let state: unknown
      try {
        state = JSON.parse(json)
      } catch (cause) {
        throw malformed('state is not JSON', cause)
      }
      // The relay re-encodes stored states for every new socket and QUERY_AWARENESS: a state it
      // cannot encode would fail each of them, long after its sender is gone.
      try {
        JSON.stringify(state)
      } catch (cause) {
        throw malformed('state cannot be re-encoded', cause)
      }
      entries.push({ clientID, clock, state, json })
    }
    if (d.pos !== update.length) throw malformed('trailing bytes')
  } catch (err) {
    if (err instanceof RhizomeError) throw err
    throw malformed('truncated update', err)
  }
  return entries
}

/**
 * Encodes entries as a y-protocols awareness update, the inverse of {@link decodeAwarenessUpdate}
 * (states are written as their wire JSON). Used to apply only the entries a socket may change.
 */
export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const entry of entries) {
    encoding.writeVarUint(e, entry.clientID)
    encoding.writeVarUint(e, entry.clock)
    encoding.writeVarString(e, entry.json)
  }
  return encoding.toUint8Array(e)
}
