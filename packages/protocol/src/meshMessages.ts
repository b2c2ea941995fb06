import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ErrorCode, RhizomeError } from './errors.js'
import { readLengthPrefixed } from './wireReads.js'

/**
 * Version of the relay-to-relay protocol spoken on `/_mesh`. 2: proofs bind both relay and store
 * ids, both nonces and the direction, and every frame after the handshake is `sealed`. 3: adds
 * `tombstones` (deletions and undeletions that replicate). 4: adds `fetch` and `records` (whole stored
 * documents, many per message, for a relay that never held them).
 */
export const MESH_PROTOCOL_VERSION = 4

/** One tombstone record on the mesh: the document is deleted, or live again, since `at` (ms). */
export interface MeshTombstone {
  name: string
  deleted: boolean
  at: number
}

/** One stored record of a document as it travels in `records`: its key after `d:<doc>\0`, its checked value. */
export interface MeshRecord {
  /** `s` for the snapshot, `l...` for a log record (see the store's key layout). */
  suffix: string
  /** The stored value: CRC-32 over the full key and the payload, then the payload. */
  value: Uint8Array
}

/** A whole stored document in `records`, with the sender's digest and state vector when it has them. */
export interface MeshDocRecords {
  name: string
  /** The sender's replica digest of exactly these records, or '' when it has none cached. */
  digest: string
  /** The state vector that goes with `digest` (empty when `digest` is ''). */
  stateVector: Uint8Array
  records: MeshRecord[]
}

/** Length of each side's handshake nonce; a hello or challenge with another length is malformed. */
export const MESH_NONCE_BYTES = 32

/** Encoded mesh messages above this size are sent as chunks. */
export const MESH_CHUNK_BYTES = 1024 * 1024

/** Largest WebSocket frame a mesh socket accepts (a chunk plus its header, with room to spare). */
export const MESH_MAX_FRAME_BYTES = 2 * MESH_CHUNK_BYTES

/** Splits an encoded mesh message into `chunk` messages when it is too large for one frame. */
export function chunkMeshFrame(frame: Uint8Array): Uint8Array[] {
  if (frame.length <= MESH_CHUNK_BYTES) return [frame]
  const out: Uint8Array[] = []
  for (let at = 0; at < frame.length; at += MESH_CHUNK_BYTES) {
    const bytes = frame.subarray(at, Math.min(frame.length, at + MESH_CHUNK_BYTES))
    out.push(encodeMeshMessage({ type: 'chunk', last: at + MESH_CHUNK_BYTES >= frame.length, bytes }))
  }
  return out
}

/**
 * Relay-to-relay messages on `/_mesh`. Handshake: the dialer sends `hello`, the acceptor answers
 * `challenge` (with its proof), the dialer answers `proof`; each proof is an HMAC under the mesh
 * secret over both nonces, both relay and store ids and its direction, so the secret never crosses
 * the wire and neither proof is valid anywhere else. Every later frame is a `sealed` one: an encoded
 * message of the kinds below plus a MAC under a per-link, per-direction key that covers the
 * frame's sequence number on the link. Inside the seals, in both directions:
 * `catalog` pages (anti-entropy), `step1` requests answered by `step2`, live `update`s, cumulative
 * `ack`s of durably stored `step2`/`update` sequence numbers, and `synced` once the sender has
 * pulled everything the other side's catalog offered, `tombstones` (deletion records, merged
 * last-writer-wins: sent before each catalog round and live as they change), and `fetch` of
 * documents the sender never held, answered by one `records` message with their stored records
 * (numbered and acknowledged like `step2`). A message larger than {@link MESH_CHUNK_BYTES}
 * travels as consecutive `chunk`s of its encoded bytes (the last one marked), so a document of any
 * size replicates over sockets whose frame limit stays small.
 */
export type MeshMessage =
  | { type: 'hello'; version: number; relayId: string; storeId: string; nonce: Uint8Array }
  | { type: 'challenge'; relayId: string; storeId: string; nonce: Uint8Array; proof: Uint8Array }
  | { type: 'proof'; proof: Uint8Array }
  | { type: 'catalog'; entries: { name: string; digest: string }[]; last: boolean; round: number }
  | { type: 'step1'; name: string; stateVector: Uint8Array }
  | { type: 'step2'; name: string; update: Uint8Array; seq: number }
  | { type: 'update'; name: string; update: Uint8Array; seq: number }
  | { type: 'ack'; seq: number }
  | { type: 'synced'; round: number }
  | { type: 'chunk'; last: boolean; bytes: Uint8Array }
  | { type: 'tombstones'; entries: MeshTombstone[] }
  | { type: 'fetch'; names: string[] }
  | { type: 'records'; seq: number; docs: MeshDocRecords[]; unavailable: string[] }
  | { type: 'sealed'; body: Uint8Array; mac: Uint8Array }

const tags = {
  hello: 0,
  challenge: 1,
  proof: 2,
  catalog: 3,
  step1: 4,
  step2: 5,
  update: 6,
  ack: 7,
  synced: 8,
  chunk: 9,
  sealed: 10,
  tombstones: 11,
  fetch: 12,
  records: 13,
} as const

/** Encodes one mesh message; {@link decodeMeshMessage} reverses it. */
export function encodeMeshMessage(m: MeshMessage): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, tags[m.type])
  switch (m.type) {
    case 'hello':
      encoding.writeVarUint(e, m.version)
      encoding.writeVarString(e, m.relayId)
      encoding.writeVarString(e, m.storeId)
      encoding.writeVarUint8Array(e, m.nonce)
      break
    case 'challenge':
      encoding.writeVarString(e, m.relayId)
      encoding.writeVarString(e, m.storeId)
      encoding.writeVarUint8Array(e, m.nonce)
      encoding.writeVarUint8Array(e, m.proof)
      break
    case 'proof':
      encoding.writeVarUint8Array(e, m.proof)
      break
    case 'catalog':
      encoding.writeVarUint(e, m.round)
      encoding.writeVarUint(e, m.last ? 1 : 0)
      encoding.writeVarUint(e, m.entries.length)
      for (const entry of m.entries) {
        encoding.writeVarString(e, entry.name)
        encoding.writeVarString(e, entry.digest)
      }
      break
    case 'step1':
      encoding.writeVarString(e, m.name)
      encoding.writeVarUint8Array(e, m.stateVector)
      break
    case 'step2':
    case 'update':
      encoding.writeVarString(e, m.name)
      encoding.writeVarUint(e, m.seq)
      encoding.writeVarUint8Array(e, m.update)
      break
    case 'ack':
      encoding.writeVarUint(e, m.seq)
      break
    case 'synced':
      encoding.writeVarUint(e, m.round)
      break
    case 'chunk':
      encoding.writeVarUint(e, m.last ? 1 : 0)
      encoding.writeVarUint8Array(e, m.bytes)
      break
    case 'tombstones':
      encoding.writeVarUint(e, m.entries.length)
      for (const t of m.entries) {
        encoding.writeVarString(e, t.name)
        encoding.writeVarUint(e, t.deleted ? 1 : 0)
        encoding.writeVarUint(e, t.at)
      }
      break
    case 'fetch':
      encoding.writeVarUint(e, m.names.length)
      for (const name of m.names) encoding.writeVarString(e, name)
      break
    case 'records':
      encoding.writeVarUint(e, m.seq)
      encoding.writeVarUint(e, m.docs.length)
      for (const doc of m.docs) {
        encoding.writeVarString(e, doc.name)
        encoding.writeVarString(e, doc.digest)
        encoding.writeVarUint8Array(e, doc.stateVector)
        encoding.writeVarUint(e, doc.records.length)
        for (const r of doc.records) {
          encoding.writeVarString(e, r.suffix)
          encoding.writeVarUint8Array(e, r.value)
        }
      }
      encoding.writeVarUint(e, m.unavailable.length)
      for (const name of m.unavailable) encoding.writeVarString(e, name)
      break
    case 'sealed':
      encoding.writeVarUint8Array(e, m.mac)
      encoding.writeVarUint8Array(e, m.body)
      break
  }
  return encoding.toUint8Array(e)
}

const malformedMesh = (detail: string, cause?: unknown) =>
  new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed mesh message: ${detail}`, { cause })
const bytes = (d: decoding.Decoder) => readLengthPrefixed(d, malformedMesh)
/** A list length, which can never exceed the bytes of the frame (each entry takes at least one). */
const count = (d: decoding.Decoder, frameBytes: number): number => {
  const n = decoding.readVarUint(d)
  if (n > frameBytes) throw new RangeError('entry count past end')
  return n
}
const strings = (d: decoding.Decoder, frameBytes: number): string[] => {
  const out: string[] = []
  for (let i = 0, n = count(d, frameBytes); i < n; i++) out.push(decoding.readVarString(d))
  return out
}

/**
 * Decodes one mesh message.
 * @throws RhizomeError PROTOCOL_MALFORMED on any truncated, unknown or trailing input.
 */
export function decodeMeshMessage(frame: Uint8Array): MeshMessage {
  const d = decoding.createDecoder(frame)
  let m: MeshMessage
  try {
    const tag = decoding.readVarUint(d)
    switch (tag) {
      case tags.hello:
        m = {
          type: 'hello',
          version: decoding.readVarUint(d),
          relayId: decoding.readVarString(d),
          storeId: decoding.readVarString(d),
          nonce: bytes(d),
        }
        break
      case tags.challenge:
        m = {
          type: 'challenge',
          relayId: decoding.readVarString(d),
          storeId: decoding.readVarString(d),
          nonce: bytes(d),
          proof: bytes(d),
        }
        break
      case tags.proof:
        m = { type: 'proof', proof: bytes(d) }
        break
      case tags.catalog: {
        const round = decoding.readVarUint(d)
        const last = decoding.readVarUint(d) === 1
        const count = decoding.readVarUint(d)
        if (count > frame.length) throw new RangeError('entry count past end')
        const entries: { name: string; digest: string }[] = []
        for (let i = 0; i < count; i++) {
          entries.push({ name: decoding.readVarString(d), digest: decoding.readVarString(d) })
        }
        m = { type: 'catalog', round, last, entries }
        break
      }
      case tags.step1:
        m = { type: 'step1', name: decoding.readVarString(d), stateVector: bytes(d) }
        break
      case tags.step2:
      case tags.update: {
        const name = decoding.readVarString(d)
        const seq = decoding.readVarUint(d)
        m = { type: tag === tags.step2 ? 'step2' : 'update', name, seq, update: bytes(d) }
        break
      }
      case tags.ack:
        m = { type: 'ack', seq: decoding.readVarUint(d) }
        break
      case tags.synced:
        m = { type: 'synced', round: decoding.readVarUint(d) }
        break
      case tags.chunk:
        m = { type: 'chunk', last: decoding.readVarUint(d) === 1, bytes: bytes(d) }
        break
      case tags.tombstones: {
        const count = decoding.readVarUint(d)
        if (count > frame.length) throw new RangeError('entry count past end')
        const entries: MeshTombstone[] = []
        for (let i = 0; i < count; i++) {
          const name = decoding.readVarString(d)
          const deleted = decoding.readVarUint(d)
          if (deleted > 1) throw new RangeError('bad deleted flag')
          entries.push({ name, deleted: deleted === 1, at: decoding.readVarUint(d) })
        }
        m = { type: 'tombstones', entries }
        break
      }
      case tags.fetch:
        m = { type: 'fetch', names: strings(d, frame.length) }
        break
      case tags.records: {
        const seq = decoding.readVarUint(d)
        const docs: MeshDocRecords[] = []
        for (let i = 0, n = count(d, frame.length); i < n; i++) {
          const name = decoding.readVarString(d)
          const digest = decoding.readVarString(d)
          const stateVector = bytes(d)
          const records: MeshRecord[] = []
          for (let j = 0, k = count(d, frame.length); j < k; j++)
            records.push({ suffix: decoding.readVarString(d), value: bytes(d) })
          docs.push({ name, digest, stateVector, records })
        }
        m = { type: 'records', seq, docs, unavailable: strings(d, frame.length) }
        break
      }
      case tags.sealed: {
        const mac = bytes(d)
        m = { type: 'sealed', mac, body: bytes(d) }
        break
      }
      default:
        throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `unknown mesh message ${tag}`)
    }
  } catch (err) {
    if (err instanceof RhizomeError) throw err
    throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'malformed mesh message', { cause: err })
  }
  if (d.pos !== frame.length)
    throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'trailing bytes in mesh message')
  return m
}
