/**
 * Binary encoding of a list of effects (one history chunk's value, before its checksum). Compact
 * because a day of exact history holds one effect per receive millisecond: client ids go into a
 * table, times and clocks are stored as differences from the previous ones of the chunk.
 *
 * ```
 * varUint version | varUint clients, varUint client... | varUint effects | varUint firstTime
 * per effect:  varInt dt | varUint bytes | varUint nInserts*4 + min(nDeleteClients, 3) [varUint nDeleteClients-3]
 *   per insert:        varUint clientIndex | varInt from - previous from of that client
 *   per delete client: varUint clientIndex | varUint ranges | per range: varInt clock - previous end | varUint len
 * ```
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { ClockRanges } from './clockRanges.js'
import type { Effect } from './effects.js'

const VERSION = 1

/** Serialises `effects` (in application order). Inverse of {@link decodeEffects}. */
export function encodeEffects(effects: readonly Effect[]): Uint8Array {
  const clients: number[] = []
  const index = new Map<number, number>()
  const indexOf = (client: number) => {
    let i = index.get(client)
    if (i === undefined) {
      i = clients.length
      clients.push(client)
      index.set(client, i)
    }
    return i
  }
  for (const e of effects) {
    for (const client of e.inserts.keys()) indexOf(client)
    for (const client of e.deletes.keys()) indexOf(client)
  }
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, VERSION)
  encoding.writeVarUint(enc, clients.length)
  for (const client of clients) encoding.writeVarUint(enc, client)
  encoding.writeVarUint(enc, effects.length)
  let prevTime = effects[0]?.time ?? 0
  encoding.writeVarUint(enc, prevTime)
  const prevFrom = new Map<number, number>()
  const prevEnd = new Map<number, number>()
  for (const e of effects) {
    encoding.writeVarInt(enc, e.time - prevTime)
    prevTime = e.time
    encoding.writeVarUint(enc, e.bytes)
    const dels = e.deletes.size
    encoding.writeVarUint(enc, e.inserts.size * 4 + Math.min(dels, 3))
    if (dels >= 3) encoding.writeVarUint(enc, dels - 3)
    for (const [client, from] of e.inserts) {
      encoding.writeVarUint(enc, index.get(client)!)
      encoding.writeVarInt(enc, from - (prevFrom.get(client) ?? 0))
      prevFrom.set(client, from)
    }
    for (const [client, ranges] of e.deletes) {
      encoding.writeVarUint(enc, index.get(client)!)
      encoding.writeVarUint(enc, ranges.length / 2)
      let end = prevEnd.get(client) ?? 0
      for (let i = 0; i < ranges.length; i += 2) {
        encoding.writeVarInt(enc, ranges[i]! - end)
        encoding.writeVarUint(enc, ranges[i + 1]!)
        end = ranges[i]! + ranges[i + 1]!
      }
      prevEnd.set(client, end)
    }
  }
  return encoding.toUint8Array(enc)
}

/**
 * Parses effects written by {@link encodeEffects}.
 * @throws Error when the bytes are not such a list (callers treat it as corruption).
 */
export function decodeEffects(bytes: Uint8Array): Effect[] {
  const dec = decoding.createDecoder(bytes)
  const version = decoding.readVarUint(dec)
  if (version !== VERSION) throw new Error(`unknown history chunk version ${version}`)
  const clients: number[] = []
  for (let n = decoding.readVarUint(dec); n > 0; n--) clients.push(decoding.readVarUint(dec))
  const clientAt = (i: number) => {
    const client = clients[i]
    if (client === undefined) throw new Error('client index out of range')
    return client
  }
  const count = decoding.readVarUint(dec)
  let time = decoding.readVarUint(dec)
  const prevFrom = new Map<number, number>()
  const prevEnd = new Map<number, number>()
  const effects: Effect[] = []
  for (let n = 0; n < count; n++) {
    time += decoding.readVarInt(dec)
    const effectBytes = decoding.readVarUint(dec)
    const header = decoding.readVarUint(dec)
    let dels = header % 4
    if (dels === 3) dels += decoding.readVarUint(dec)
    const inserts = new Map<number, number>()
    for (let i = Math.floor(header / 4); i > 0; i--) {
      const client = clientAt(decoding.readVarUint(dec))
      const from = (prevFrom.get(client) ?? 0) + decoding.readVarInt(dec)
      inserts.set(client, from)
      prevFrom.set(client, from)
    }
    const deletes = new Map<number, ClockRanges>()
    for (let d = 0; d < dels; d++) {
      const client = clientAt(decoding.readVarUint(dec))
      let end = prevEnd.get(client) ?? 0
      const ranges: ClockRanges = []
      for (let r = decoding.readVarUint(dec); r > 0; r--) {
        const clock = end + decoding.readVarInt(dec)
        const len = decoding.readVarUint(dec)
        ranges.push(clock, len)
        end = clock + len
      }
      prevEnd.set(client, end)
      deletes.set(client, ranges)
    }
    effects.push({ time, bytes: effectBytes, inserts, deletes })
  }
  if (dec.pos !== bytes.length) throw new Error('trailing bytes in history chunk')
  return effects
}
