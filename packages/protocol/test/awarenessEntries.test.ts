import { describe, expect, it } from 'vitest'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import {
  type AwarenessEntry,
  decodeAwarenessEntries,
  decodeMessage,
  ErrorCode,
  encodeAwareness,
  encodeAwarenessEntries,
  isRhizomeError,
} from '../src/index.js'

function malformed(update: Uint8Array): void {
  try {
    decodeAwarenessEntries(update)
  } catch (err) {
    expect(isRhizomeError(err, ErrorCode.PROTOCOL_MALFORMED), String(err)).toBe(true)
    return
  }
  throw new Error(`decoded ${Array.from(update)} without an error`)
}

const samples: [string, AwarenessEntry[]][] = [
  ['no entries', []],
  ['one client', [{ clientID: 1, clock: 0, state: '{"user":"ä"}' }]],
  [
    'a client that left and large ids',
    [
      { clientID: 2 ** 32 - 1, clock: 2 ** 40, state: 'null' },
      { clientID: 7, clock: 3, state: '{}' },
    ],
  ],
]

describe('awareness entries (AWARENESS payload, docs/PROTOCOL.md section 3)', () => {
  it.each(samples)('%s round-trip', (_what, entries) => {
    expect(decodeAwarenessEntries(encodeAwarenessEntries(entries))).toEqual(entries)
  })

  it.each(samples)('%s: every truncation and trailing garbage raise PROTOCOL_MALFORMED', (_what, entries) => {
    const update = encodeAwarenessEntries(entries)
    for (let len = 0; len < update.length; len++) malformed(update.slice(0, len))
    malformed(new Uint8Array([...update, 0]))
  })

  it('refuses a string length past the end even inside a larger buffer', () => {
    const update = encodeAwarenessEntries([{ clientID: 1, clock: 1, state: '{"a":1}' }])
    const frame = new Uint8Array([...update.slice(0, -2), 0x41, 0x41, 0x41, 0x41])
    malformed(frame.subarray(0, update.length - 2))
  })

  it('is byte-compatible with y-protocols in both directions', () => {
    const doc = new Y.Doc()
    const awareness = new Awareness(doc)
    awareness.setLocalState({ user: { name: 'ada', color: '#f00' } })
    const update = encodeAwarenessUpdate(awareness, [doc.clientID])
    const entries = decodeAwarenessEntries(update)
    expect(entries).toEqual([
      {
        clientID: doc.clientID,
        clock: awareness.meta.get(doc.clientID)!.clock,
        state: JSON.stringify(awareness.getLocalState()),
      },
    ])
    expect(encodeAwarenessEntries(entries)).toEqual(update)
    awareness.setLocalState(null)
    expect(decodeAwarenessEntries(encodeAwarenessUpdate(awareness, [doc.clientID]))[0]!.state).toBe('null')
    awareness.destroy()
  })

  it('decodes the payload of an AWARENESS message', () => {
    const entries = [{ clientID: 5, clock: 2, state: '{"x":true}' }]
    const message = decodeMessage(encodeAwareness(encodeAwarenessEntries(entries)))
    expect(message.type).toBe('awareness')
    expect(decodeAwarenessEntries((message as { update: Uint8Array }).update)).toEqual(entries)
  })

  it('refuses to encode ids and clocks that are not non-negative safe integers', () => {
    expect(() => encodeAwarenessEntries([{ clientID: -1, clock: 0, state: 'null' }])).toThrow(TypeError)
    expect(() => encodeAwarenessEntries([{ clientID: 1, clock: 0.5, state: 'null' }])).toThrow(TypeError)
  })
})
