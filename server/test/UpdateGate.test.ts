import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../test/support/seed.mjs'
import { MAX_NESTING_DEPTH } from '../src/docs/NestingLimit.js'
import { MAX_PENDING_RETRIES, PendingUpdates } from '../src/docs/PendingUpdates.js'
import { assertAppliesWhole } from '../src/docs/standaloneSummary.js'
import { UpdateGate } from '../src/docs/UpdateGate.js'
import { deepChain, dependentUpdate, partialApplyUpdate } from './support/hostileUpdates.js'

const FILE = 'server/test/UpdateGate.test.ts'

function gated() {
  const doc = new Y.Doc()
  const released: Uint8Array[] = []
  const gate = new UpdateGate(doc, (u) => released.push(u))
  return { doc, gate, released }
}

describe('UpdateGate', () => {
  it('releases what an update changed only after Yjs applied it whole', () => {
    const { gate, released } = gated()
    const src = new Y.Doc()
    src.getText('t').insert(0, 'hello')
    const result = gate.apply(Y.encodeStateAsUpdate(src), 'origin')
    expect(result.changed).toBe(true)
    expect(result.pending).toBeNull()
    expect(released).toHaveLength(1)
    expect(result.advanced.get(src.clientID)).toBe(5)
  })

  it('finding 7: releases nothing of an update Yjs rejects halfway, and is broken from then on', async () => {
    const seed = testSeed()
    await withSeed(FILE, seed, async () => {
      const { gate, released } = gated()
      expect(() => gate.apply(partialApplyUpdate(prng(seed)), null)).toThrow(/cannot be applied/)
      expect(released).toEqual([])
      expect(gate.broken).toBe(true)
      expect(() => gate.apply(new Uint8Array([0, 0]), null)).toThrow(/being reloaded/)
    })
  })

  it(`finding 2: refuses types nested deeper than ${MAX_NESTING_DEPTH}, deleted or not, without overflowing`, () => {
    for (const deleteRoot of [false, true]) {
      const { gate, released } = gated()
      // With the delete, Yjs' recursive delete may overflow before the check runs: refused either way.
      const refusal = deleteRoot ? /nested deeper|cannot be applied/ : /nested deeper/
      expect(() => gate.apply(deepChain(2500, { deleteRoot }).update, null)).toThrow(refusal)
      expect(released).toEqual([])
      expect(gate.broken).toBe(true)
    }
    const { gate, released } = gated()
    gate.apply(deepChain(MAX_NESTING_DEPTH, { deleteRoot: true }).update, null)
    expect(released).toHaveLength(1)
    // One level at a time counts too.
    const chain = deepChain(MAX_NESTING_DEPTH)
    const next = new Y.Doc()
    Y.applyUpdate(next, chain.chain)
    const sv = Y.encodeStateVector(next)
    let inner = next.getMap('deep').get('chain') as Y.Map<unknown>
    while (inner.get('c') instanceof Y.Map) inner = inner.get('c') as Y.Map<unknown>
    inner.set('c', new Y.Map())
    const deeper = gated()
    deeper.gate.apply(chain.chain, null)
    expect(() => deeper.gate.apply(Y.encodeStateAsUpdate(next, sv), null)).toThrow(/nested deeper/)
  })

  it('takes pending structs out of the Y.Doc and says what they wait for', async () => {
    const seed = testSeed()
    await withSeed(FILE, seed, async () => {
      const { doc, gate, released } = gated()
      const { update, dependency } = dependentUpdate(prng(seed), 100)
      const held = gate.apply(update, null)
      expect(held.changed).toBe(false)
      expect(held.pending?.parts).toHaveLength(1)
      expect(doc.store.pendingStructs).toBeNull()
      // Nothing of the held part is served (Y.encodeStateAsUpdate would append Yjs' pending).
      expect(Y.encodeStateAsUpdate(doc)).toEqual(new Uint8Array([0, 0]))
      const dep = gate.apply(dependency, null)
      const [client, clock] = [...held.pending!.waitsFor][0]!
      expect(dep.advanced.get(client)! > clock).toBe(true)
      gate.apply(held.pending!.parts[0]!, null, true)
      expect(released).toHaveLength(2)
      expect(doc.getText('pending').length).toBe(101)
    })
  })

  it('assertAppliesWhole refuses what would be held, refused or rejected halfway', () => {
    const random = prng(7)
    expect(() => assertAppliesWhole(dependentUpdate(random, 10).update)).toThrow(/depends on structs/)
    expect(() => assertAppliesWhole(deepChain(400).update)).toThrow(/nested deeper/)
    expect(() => assertAppliesWhole(partialApplyUpdate(random))).toThrow(/cannot be applied/)
    assertAppliesWhole(deepChain(10).update)
  })
})

describe('PendingUpdates', () => {
  const parts = (bytes: number, waitsFor: [number, number][]) => ({
    parts: [new Uint8Array(bytes)],
    waitsFor: new Map(waitsFor),
    bytes,
  })

  it('hands an entry back only once a client it waits for passed the clock it needs', async () => {
    const p = new PendingUpdates(10_000)
    const a = p.hold('s1', parts(10, [[1, 5]]))!
    p.hold('s1', parts(10, [[2, 0]]))
    expect(p.due(new Map([[1, 5]]))).toEqual([])
    const due = p.due(new Map([[1, 6]]))
    expect(due).toHaveLength(1)
    expect(p.size).toBe(1)
    p.integrated(due[0]!)
    await a
  })

  it('past the budget refuses with PROTOCOL_TOO_LARGE and drops every entry of that origin only', async () => {
    const p = new PendingUpdates(2_000)
    const mine = p.hold('attacker', parts(700, [[1, 0]]))!
    const theirs = p.hold('other', parts(100, [[1, 0]]))!
    expect(() => p.hold('attacker', parts(900, [[1, 0]]))).toThrow(/exceed 2000 bytes/)
    await expect(mine).rejects.toMatchObject({ code: 'PROTOCOL_TOO_LARGE' })
    expect(p.size).toBe(1)
    p.dropFrom('other', new Error('closed'))
    await expect(theirs).rejects.toThrow('closed')
    expect(p.bytes).toBe(0)
  })

  it(`drops an entry handed back ${MAX_PENDING_RETRIES} times that still does not integrate`, async () => {
    const p = new PendingUpdates(10_000)
    const promise = p.hold('s', parts(10, [[1, 0]]))!
    for (let i = 0; i < MAX_PENDING_RETRIES - 1; i++) {
      const [entry] = p.due(new Map([[1, i + 1]]))
      p.hold('s', parts(10, [[1, i + 1]]), entry)
    }
    const [entry] = p.due(new Map([[1, MAX_PENDING_RETRIES]]))
    expect(() => p.hold('s', parts(10, [[1, 99]]), entry)).toThrow(/retried too often/)
    await expect(promise).rejects.toMatchObject({ code: 'PROTOCOL_TOO_LARGE' })
  })

  it('retry integrates what became applicable and settles everything when Yjs fails on a held part', async () => {
    const random = prng(11)
    const { gate, released } = gated()
    const p = new PendingUpdates(100_000)
    const { update, dependency } = dependentUpdate(random, 50)
    const held = gate.apply(update, null).pending!
    const [client] = [...held.waitsFor.keys()]
    const ok = p.hold('a', held)!
    const dep = gate.apply(dependency, null)
    expect(p.retry(gate, dep.advanced)).toBeNull()
    await ok
    expect(released).toHaveLength(2)

    // A held part that Yjs throws on, and another entry due at the same time.
    // Decodes, but Yjs throws halfway through applying it.
    const part = Y.convertUpdateFormatV1ToV2(partialApplyUpdate(random))
    const bad = p.hold('b', { parts: [part], waitsFor: new Map([[client!, 0]]), bytes: part.length })!
    const other = p.hold('c', { ...held, waitsFor: new Map([[client!, 0]]) })!
    const failed = p.retry(gate, new Map([[client!, 1]]))
    expect(failed?.origin).toBe('b')
    expect(gate.broken).toBe(true)
    await expect(bad).rejects.toMatchObject({ code: 'PROTOCOL_MALFORMED' })
    await expect(other).rejects.toMatchObject({ code: 'RELAY_UNAVAILABLE' })
  })
})
