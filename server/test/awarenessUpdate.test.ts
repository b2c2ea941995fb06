import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../test/support/seed.mjs'
import {
  type AwarenessEntry,
  decodeAwarenessUpdate,
  encodeAwarenessUpdate,
  MAX_AWARENESS_DEPTH,
} from '../src/docs/awarenessUpdate.js'

const limits = { maxBytes: 64 * 1024 }

/** An awareness update with the given raw entries, written as y-protocols writes them. */
function rawUpdate(entries: [clientID: number, clock: number, json: string][], trailing: number[] = []) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const [id, clock, json] of entries) {
    encoding.writeVarUint(e, id)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, json)
  }
  for (const b of trailing) encoding.writeUint8(e, b)
  return encoding.toUint8Array(e)
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return isRhizomeError(err) ? err.code : `not a RhizomeError: ${String(err)}`
  }
  return 'no error'
}

describe('decodeAwarenessUpdate / encodeAwarenessUpdate', () => {
  it('decodes what y-protocols encodes, and re-encodes it byte for byte', () => {
    const doc = new Y.Doc()
    const aw = new awarenessProtocol.Awareness(doc)
    aw.setLocalState({ user: { name: 'alice', color: '#30bced' }, cursor: [1, 2, { a: 'b' }] })
    const update = awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID])
    const entries = decodeAwarenessUpdate(update, limits)
    expect(entries).toEqual([
      {
        clientID: doc.clientID,
        clock: 1,
        state: aw.getLocalState(),
        json: JSON.stringify(aw.getLocalState()),
      },
    ])
    expect(encodeAwarenessUpdate(entries)).toEqual(update)
    aw.destroy()
  })

  it('round-trips random entries, removals (null) and duplicates included (seeded)', async () => {
    const seed = testSeed()
    await withSeed('server/test/awarenessUpdate.test.ts', seed, async () => {
      const random = prng(seed)
      for (let run = 0; run < 200; run++) {
        const entries: AwarenessEntry[] = []
        const n = Math.floor(random() * 5)
        for (let i = 0; i < n; i++) {
          const state =
            random() < 0.3 ? null : { name: `u${Math.floor(random() * 1e6)}`, n: [random(), { deep: [i] }] }
          entries.push({
            clientID: Math.floor(random() * 2 ** 32),
            clock: Math.floor(random() * 1000),
            state,
            json: JSON.stringify(state),
          })
        }
        if (n > 0 && random() < 0.3) entries.push(entries[0]!)
        expect(decodeAwarenessUpdate(encodeAwarenessUpdate(entries), limits)).toEqual(entries)
      }
    })
  })

  it('refuses a state nested deeper than the bound (20,000 arrays: poisoned awareness) with PROTOCOL_MALFORMED', () => {
    const poison = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    expect(poison.length).toBeLessThan(limits.maxBytes)
    expect(codeOf(() => decodeAwarenessUpdate(rawUpdate([[1, 1, poison]]), limits))).toBe(
      ErrorCode.PROTOCOL_MALFORMED,
    )
    const atBound = `${'{"a":'.repeat(MAX_AWARENESS_DEPTH - 1)}[1]${'}'.repeat(MAX_AWARENESS_DEPTH - 1)}`
    expect(decodeAwarenessUpdate(rawUpdate([[1, 1, atBound]]), limits)).toHaveLength(1)
    const past = `[${atBound}]`
    expect(codeOf(() => decodeAwarenessUpdate(rawUpdate([[1, 1, past]]), limits))).toBe(
      ErrorCode.PROTOCOL_MALFORMED,
    )
  })

  it('does not count brackets inside strings (escaped quotes included) toward the depth', () => {
    const json = JSON.stringify({ text: `${'['.repeat(100)}"\\${'{'.repeat(100)}` })
    const [entry] = decodeAwarenessUpdate(rawUpdate([[7, 3, json]]), limits)
    expect(entry!.state).toEqual(JSON.parse(json))
  })

  it('refuses a state JSON.parse accepts but JSON.stringify cannot re-encode', () => {
    // Without the depth bound the re-encode check is what catches it.
    const poison = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    let stringifyFails = false
    try {
      JSON.stringify(JSON.parse(poison))
    } catch {
      stringifyFails = true
    }
    expect(stringifyFails).toBe(true)
    expect(
      codeOf(() => decodeAwarenessUpdate(rawUpdate([[1, 1, poison]]), { ...limits, maxDepth: Infinity })),
    ).toBe(ErrorCode.PROTOCOL_MALFORMED)
  })

  it.each<[string, Uint8Array]>([
    ['an empty update', new Uint8Array()],
    ['a truncated entry', rawUpdate([[1, 1, '{}']]).slice(0, -1)],
    ['a count past the entries', Uint8Array.from([2, ...rawUpdate([[1, 1, '{}']]).slice(1)])],
    ['trailing bytes', rawUpdate([[1, 1, '{}']], [0])],
    ['a state that is not JSON', rawUpdate([[1, 1, '{nope']])],
    ['an empty state string', rawUpdate([[1, 1, '']])],
    [
      'a clientID past 2^53',
      Uint8Array.from([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 0x7b, 0x7d]),
    ],
    ['a string length past the end', Uint8Array.from([1, 1, 1, 0xff, 0x7f, 0x7b])],
    ['invalid UTF-8 in a state', Uint8Array.from([1, 1, 1, 3, 0x22, 0xff, 0x22])],
  ])('refuses %s with PROTOCOL_MALFORMED', (_what, update) => {
    expect(codeOf(() => decodeAwarenessUpdate(update, limits))).toBe(ErrorCode.PROTOCOL_MALFORMED)
  })

  it('refuses an update over maxBytes with PROTOCOL_TOO_LARGE', () => {
    const update = rawUpdate([[1, 1, JSON.stringify('x'.repeat(1000))]])
    expect(codeOf(() => decodeAwarenessUpdate(update, { maxBytes: 1000 }))).toBe(ErrorCode.PROTOCOL_TOO_LARGE)
    expect(decodeAwarenessUpdate(update, { maxBytes: update.length })).toHaveLength(1)
  })

  it('accepts the empty update (count 0) that keeps idle sockets alive', () => {
    expect(decodeAwarenessUpdate(rawUpdate([]), limits)).toEqual([])
  })
})
