import { describe, expect, it } from 'vitest'
import {
  chunkMeshFrame,
  decodeMeshMessage,
  ErrorCode,
  encodeMeshMessage,
  isRhizomeError,
  MESH_CHUNK_BYTES,
  MESH_MAX_FRAME_BYTES,
  MESH_NONCE_BYTES,
  MESH_PROTOCOL_VERSION,
  type MeshMessage,
} from '../src/index.js'

const nonce = new Uint8Array(Array.from({ length: MESH_NONCE_BYTES }, (_, i) => i * 7))
const bytes = new Uint8Array([0, 1, 2, 255])

const messages: MeshMessage[] = [
  { type: 'hello', version: MESH_PROTOCOL_VERSION, relayId: 'relay-a', storeId: 'f00d', nonce },
  { type: 'challenge', relayId: 'relay-b', storeId: 'beef', nonce, proof: bytes },
  { type: 'proof', proof: bytes },
  { type: 'catalog', entries: [], last: true, round: 0 },
  {
    type: 'catalog',
    entries: [
      { name: 'notes/a', digest: 'ab'.repeat(32) },
      { name: 'ünïcode/b', digest: '' },
    ],
    last: false,
    round: 12,
  },
  { type: 'step1', name: 'notes/a', stateVector: bytes },
  { type: 'step2', name: 'notes/a', update: bytes, seq: 1 },
  { type: 'update', name: 'notes/a', update: new Uint8Array(), seq: 2 ** 40 },
  { type: 'ack', seq: 0 },
  { type: 'ack', seq: 123456789 },
  { type: 'synced', round: 3 },
  { type: 'chunk', last: false, bytes },
  { type: 'chunk', last: true, bytes: new Uint8Array() },
  { type: 'tombstones', entries: [] },
  {
    type: 'tombstones',
    entries: [
      { name: 'notes/a', deleted: true, at: 1_764_600_000_000 },
      { name: 'ünïcode/b', deleted: false, at: 0 },
    ],
  },
  { type: 'fetch', names: [] },
  { type: 'fetch', names: ['notes/a', 'ünïcode/b'] },
  { type: 'records', seq: 4, docs: [], unavailable: [] },
  {
    type: 'records',
    seq: 2 ** 40,
    docs: [
      {
        name: 'notes/a',
        digest: 'ab'.repeat(32),
        stateVector: bytes,
        records: [{ suffix: 's', value: bytes }],
      },
      {
        name: 'notes/b',
        digest: '',
        stateVector: new Uint8Array(),
        records: [
          { suffix: 'l0000000000aaaaaa00000000001@0', value: bytes },
          { suffix: 'l0000000000aaaaaa00000000002', value: new Uint8Array() },
        ],
      },
    ],
    unavailable: ['notes/gone'],
  },
  { type: 'sealed', body: encodeMeshMessage({ type: 'ack', seq: 9 }), mac: new Uint8Array(16).fill(0xa5) },
  { type: 'sealed', body: new Uint8Array(), mac: new Uint8Array() },
]

function expectMalformed(frame: Uint8Array): void {
  let caught: unknown
  try {
    decodeMeshMessage(frame)
  } catch (err) {
    caught = err
  }
  expect(isRhizomeError(caught, ErrorCode.PROTOCOL_MALFORMED), `${Array.from(frame)}: ${caught}`).toBe(true)
}

describe('mesh messages', () => {
  it.each(messages.map((m) => [m.type, m] as const))('%s round-trips', (_type, message) => {
    expect(decodeMeshMessage(encodeMeshMessage(message))).toEqual(message)
  })

  it.each(messages.map((m) => [m.type, m] as const))(
    '%s: every truncation and trailing garbage raise PROTOCOL_MALFORMED',
    (_type, message) => {
      const frame = encodeMeshMessage(message)
      for (let len = 0; len < frame.length; len++) expectMalformed(frame.slice(0, len))
      expectMalformed(new Uint8Array([...frame, 0]))
    },
  )

  it('raises PROTOCOL_MALFORMED for an unknown tag and for an entry count past the end', () => {
    expectMalformed(new Uint8Array([99]))
    expectMalformed(new Uint8Array([3, 0, 1, 0xff, 0xff, 0xff, 0x0f]))
    expectMalformed(new Uint8Array([5, 1, 97, 1, 0xff, 0xff, 0xff, 0xff, 0x0f]))
  })

  it('splits a message over the chunk size into frames under the mesh frame limit, in order', () => {
    const update = new Uint8Array(MESH_CHUNK_BYTES * 2 + 12345)
    for (let i = 0; i < update.length; i++) update[i] = i % 251
    const whole = encodeMeshMessage({ type: 'step2', name: 'big/doc', update, seq: 7 })
    const frames = chunkMeshFrame(whole)
    expect(frames.length).toBe(3)
    const parts = frames.map((f) => decodeMeshMessage(f))
    expect(parts.map((p) => p.type === 'chunk' && p.last)).toEqual([false, false, true])
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(MESH_MAX_FRAME_BYTES)
    const joined = new Uint8Array(whole.length)
    let at = 0
    for (const p of parts) {
      if (p.type !== 'chunk') throw new Error('expected chunks')
      joined.set(p.bytes, at)
      at += p.bytes.length
    }
    const decoded = decodeMeshMessage(joined)
    if (decoded.type !== 'step2') throw new Error(`expected step2, got ${decoded.type}`)
    expect([decoded.name, decoded.seq]).toEqual(['big/doc', 7])
    // Byte comparison, not toEqual: a deep diff of megabytes is slow.
    expect(Buffer.from(decoded.update).equals(Buffer.from(update))).toBe(true)
    const small = encodeMeshMessage({ type: 'ack', seq: 1 })
    expect(chunkMeshFrame(small)).toEqual([small])
  })

  it('keeps a sealed full-size chunk under the mesh frame limit', () => {
    const [chunk] = chunkMeshFrame(new Uint8Array(MESH_CHUNK_BYTES + 1))
    const sealed = encodeMeshMessage({ type: 'sealed', body: chunk!, mac: new Uint8Array(32) })
    expect(sealed.length).toBeLessThanOrEqual(MESH_MAX_FRAME_BYTES)
  })

  it('speaks mesh protocol version 4 (bound proofs, sealed frames, tombstones, whole-document fetches)', () => {
    expect(MESH_PROTOCOL_VERSION).toBe(4)
  })
})
