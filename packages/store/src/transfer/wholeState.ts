/**
 * Checking, without a Y.Doc, that a set of Yjs updates is a whole document: what a relay needs
 * before it stores a document it never held exactly as a peer sent it (docs/PROTOCOL.md, Mesh:
 * fetch and records).
 */
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'

/** What {@link inspectWholeState} found. */
export interface WholeState {
  /** The state vector the updates describe together (`Y.encodeStateVector` encoding). */
  stateVector: Uint8Array
  /**
   * Some item sits inside a shared type that is itself inside another (parent given by id): then
   * nesting depth matters, and only applying the updates shows it. Root-level types cannot nest.
   */
  nested: boolean
}

/** The shape of `Y.decodeUpdate`'s delete set (Yjs does not export the type). */
interface DeleteSet {
  clients: Map<number, { clock: number; len: number }[]>
}

const malformed = (detail: string, cause?: unknown) =>
  new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `not a whole document: ${detail}`, { cause })

/**
 * Decodes every update and checks that together they need nothing else: each client's structs
 * cover its clocks from 0 without a gap, and every origin, right origin, parent and deleted range
 * points inside what they hold. Costs one decode (about a quarter of applying to a scratch Y.Doc).
 * @throws RhizomeError PROTOCOL_MALFORMED when an update does not decode, or something is missing.
 */
export function inspectWholeState(updates: readonly Uint8Array[]): WholeState {
  const ranges = new Map<number, [number, number][]>()
  const refs: Y.ID[] = []
  const deletes: DeleteSet[] = []
  let nested = false
  for (const update of updates) {
    let decoded: { structs: Array<Y.Item | Y.GC | Y.Skip>; ds: DeleteSet }
    try {
      decoded = Y.decodeUpdate(update)
    } catch (cause) {
      throw malformed('an update does not decode', cause)
    }
    for (const struct of decoded.structs) {
      if (struct instanceof Y.Skip) throw malformed('an update skips structs')
      const { client, clock } = struct.id
      let list = ranges.get(client)
      if (list === undefined) {
        list = []
        ranges.set(client, list)
      }
      list.push([clock, clock + struct.length])
      if (struct instanceof Y.Item) {
        if (struct.origin) refs.push(struct.origin)
        if (struct.rightOrigin) refs.push(struct.rightOrigin)
        const parent = struct.parent as unknown
        if (parent instanceof Y.ID) {
          refs.push(parent)
          nested = true
        }
      }
    }
    deletes.push(decoded.ds)
  }
  const sv = new Map<number, number>()
  for (const [client, list] of ranges) {
    list.sort((a, b) => a[0] - b[0])
    let end = 0
    for (const [from, to] of list) {
      if (from > end) throw malformed(`client ${client} has a gap at clock ${end}`)
      if (to > end) end = to
    }
    sv.set(client, end)
  }
  for (const id of refs) {
    if (id.clock >= (sv.get(id.client) ?? 0))
      throw malformed(`a reference to ${id.client}:${id.clock} it lacks`)
  }
  for (const ds of deletes) {
    for (const [client, items] of ds.clients) {
      const end = sv.get(client) ?? 0
      for (const item of items)
        if (item.clock + item.len > end) throw malformed(`a deletion of ${client}:${item.clock} it lacks`)
    }
  }
  return { stateVector: Y.encodeStateVector(sv), nested }
}

/** True when two encoded state vectors hold the same clocks (whatever their client order). */
export function sameStateVector(a: Uint8Array, b: Uint8Array): boolean {
  const x = Y.decodeStateVector(a)
  const y = Y.decodeStateVector(b)
  if (x.size !== y.size) return false
  for (const [client, clock] of x) if (y.get(client) !== clock) return false
  return true
}
