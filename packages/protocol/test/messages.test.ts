import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as authProtocol from 'y-protocols/auth'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import {
  decodeMessage,
  ErrorCode,
  encodeAck,
  encodeAuthDenied,
  encodeAwareness,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  isRhizomeError,
  type Message,
  type RhizomeError,
} from '../src/index.js'

function sampleUpdate(): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'hello')
  doc.getMap('m').set('k', [1, 2])
  return Y.encodeStateAsUpdate(doc)
}

const update = sampleUpdate()
const bytes = new Uint8Array([1, 2, 3, 250, 0])

/** Every encoder with its input and the message decodeMessage must give back. */
const pairs: [string, Uint8Array, Message][] = [
  ['sync step1', encodeSyncStep1(bytes), { type: 'sync-step1', stateVector: bytes }],
  ['sync step2', encodeSyncStep2(update), { type: 'sync-step2', update }],
  ['sync update', encodeSyncUpdate(update), { type: 'sync-update', update }],
  [
    'empty sync update',
    encodeSyncUpdate(new Uint8Array()),
    { type: 'sync-update', update: new Uint8Array() },
  ],
  ['awareness', encodeAwareness(bytes), { type: 'awareness', update: bytes }],
  ['auth denied', encodeAuthDenied('no access: äö'), { type: 'auth-denied', reason: 'no access: äö' }],
  ['query awareness', encodeQueryAwareness(), { type: 'query-awareness' }],
  ['ack', encodeAck(1, 1), { type: 'ack', n: 1, copies: 1 }],
  ['large ack', encodeAck(2 ** 40, 7), { type: 'ack', n: 2 ** 40, copies: 7 }],
  ['zero ack', encodeAck(0, 0), { type: 'ack', n: 0, copies: 0 }],
]

function malformed(frame: Uint8Array): RhizomeError {
  try {
    decodeMessage(frame)
  } catch (err) {
    expect(isRhizomeError(err, ErrorCode.PROTOCOL_MALFORMED), String(err)).toBe(true)
    return err as RhizomeError
  }
  throw new Error(`decoded ${Array.from(frame)} without an error`)
}

describe('messages (docs/PROTOCOL.md section 3)', () => {
  it.each(pairs)('%s round-trips', (_what, frame, message) => {
    expect(decodeMessage(frame)).toEqual(message)
  })

  it.each(pairs)('%s: every truncation raises PROTOCOL_MALFORMED', (_what, frame) => {
    for (let len = 0; len < frame.length; len++) malformed(frame.slice(0, len))
  })

  it.each(pairs)('%s: trailing garbage raises PROTOCOL_MALFORMED', (_what, frame) => {
    malformed(new Uint8Array([...frame, 0]))
    malformed(new Uint8Array([...frame, 0xff, 0xff]))
  })

  it('is byte-compatible with y-protocols', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'x')
    const step1 = encoding.createEncoder()
    encoding.writeVarUint(step1, 0)
    syncProtocol.writeSyncStep1(step1, doc)
    expect(encodeSyncStep1(Y.encodeStateVector(doc))).toEqual(encoding.toUint8Array(step1))

    const step2 = encoding.createEncoder()
    encoding.writeVarUint(step2, 0)
    syncProtocol.writeSyncStep2(step2, doc)
    expect(encodeSyncStep2(Y.encodeStateAsUpdate(doc))).toEqual(encoding.toUint8Array(step2))

    const upd = encoding.createEncoder()
    encoding.writeVarUint(upd, 0)
    syncProtocol.writeUpdate(upd, update)
    expect(encodeSyncUpdate(update)).toEqual(encoding.toUint8Array(upd))

    const auth = encoding.createEncoder()
    encoding.writeVarUint(auth, 2)
    authProtocol.writePermissionDenied(auth, 'nope')
    expect(encodeAuthDenied('nope')).toEqual(encoding.toUint8Array(auth))
  })

  it.each([
    ['an empty frame', []],
    ['an unknown type', [7]],
    ['type 4', [4, 0]],
    ['an unknown sync step', [0, 3, 0]],
    ['an unknown auth message', [2, 1, 0]],
    ['a length prefix past the end', [0, 2, 5, 1, 2]],
    ['a huge length prefix', [0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1]],
    ['a varint past 2^53', [100, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1]],
    ['a truncated varint', [0x80]],
    ['an endless varint', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]],
  ])('raises PROTOCOL_MALFORMED for %s', (_what, frame) => {
    malformed(new Uint8Array(frame))
  })

  it('refuses to encode an ACK that is not two non-negative safe integers', () => {
    expect(() => encodeAck(-1, 1)).toThrow(TypeError)
    expect(() => encodeAck(1, 1.5)).toThrow(TypeError)
    expect(() => encodeAck(2 ** 53, 1)).toThrow(TypeError)
  })
})
