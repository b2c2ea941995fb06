import { decodeAwarenessEntries, ErrorCode, encodeAwarenessEntries, RhizomeError } from '@rhizome/protocol'

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

function malformed(detail: string, cause?: unknown): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed awareness update: ${detail}`, { cause })
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
 * Decodes (with `decodeAwarenessEntries` of the protocol package) and validates a y-protocols
 * awareness update before anything of it is applied, stored or relayed. Every entry must be complete and its state JSON must parse, nest at most `maxDepth`
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
  return decodeAwarenessEntries(update).map(({ clientID, clock, state: json }) => {
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
    return { clientID, clock, state, json }
  })
}

/**
 * Encodes entries as a y-protocols awareness update, the inverse of {@link decodeAwarenessUpdate}
 * (states are written as their wire JSON). Used to apply only the entries a socket may change.
 */
export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  return encodeAwarenessEntries(
    entries.map(({ clientID, clock, json }) => ({ clientID, clock, state: json })),
  )
}
