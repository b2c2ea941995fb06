import { describe, expect, it } from 'vitest'
import { decodeSessionMessage, ErrorCode, encodeSessionMessage, type SessionMessage } from '../src/index.js'

const samples: SessionMessage[] = [
  { type: 'hello', version: 1, checkpoint: null, patterns: [] },
  { type: 'hello', version: 1, checkpoint: { storeId: 'abc', seq: 2 ** 40 }, patterns: ['notes/**', 'a/*'] },
  { type: 'replicate', patterns: ['contacts/*'] },
  { type: 'open', doc: 'notes/a' },
  { type: 'close', doc: 'notes/a' },
  { type: 'delete', doc: 'notes/a' },
  { type: 'sync', doc: 'notes/a', step: 'step1', payload: new Uint8Array([0]) },
  { type: 'sync', doc: 'notes/a', step: 'step2', payload: new Uint8Array([0, 0]) },
  { type: 'sync', doc: 'n', step: 'update', payload: new Uint8Array([1, 2, 3]) },
  { type: 'awareness', doc: 'notes/a', update: new Uint8Array([1, 0]) },
  { type: 'welcome', version: 1, relayId: 'r1', storeId: 's1', seq: 7, resumed: true },
  { type: 'welcome', version: 1, relayId: 'r1', storeId: 's1', seq: 0, resumed: false },
  {
    type: 'changes',
    round: 3,
    last: true,
    seq: 99,
    entries: [
      { doc: 'a', digest: 'ff' },
      { doc: 'b', digest: '', deletedAt: 0 },
      { doc: 'c', digest: '', deletedAt: 1_764_000_000_000 },
    ],
  },
  { type: 'ack', doc: 'notes/a', n: 12, copies: 3 },
  { type: 'checkpoint', seq: 5 },
  { type: 'refused', doc: 'secret/x', code: 4403, reason: 'document not granted' },
  { type: 'deleted', doc: 'notes/a', at: 1_764_000_000_000 },
  { type: 'keepalive' },
]

describe('session messages', () => {
  it('round-trips every message type', () => {
    for (const m of samples) expect(decodeSessionMessage(encodeSessionMessage(m))).toEqual(m)
  })

  it('refuses truncated frames, trailing bytes and unknown types with PROTOCOL_MALFORMED', () => {
    for (const m of samples) {
      const frame = encodeSessionMessage(m)
      for (let cut = 0; cut < frame.length; cut++) {
        expect(() => decodeSessionMessage(frame.subarray(0, cut))).toThrow(
          expect.objectContaining({ code: ErrorCode.PROTOCOL_MALFORMED }),
        )
      }
      const longer = new Uint8Array(frame.length + 1)
      longer.set(frame)
      expect(() => decodeSessionMessage(longer)).toThrow(
        expect.objectContaining({ code: ErrorCode.PROTOCOL_MALFORMED }),
      )
    }
    expect(() => decodeSessionMessage(new Uint8Array([99]))).toThrow(/unknown message type 99/)
  })

  it('refuses a pattern count past the end of the frame before allocating', () => {
    // replicate with a claimed count of 2^32 patterns in a 6-byte frame
    expect(() => decodeSessionMessage(new Uint8Array([2, 0x80, 0x80, 0x80, 0x80, 0x10]))).toThrow(
      expect.objectContaining({ code: ErrorCode.PROTOCOL_MALFORMED }),
    )
  })
})
