import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { digestOfDoc } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng } from '../../test/support/seed.mjs'
import { ExistenceChecks } from '../src/docs/ExistenceChecks.js'
import { standaloneSummary, wholeSummary } from '../src/docs/standaloneSummary.js'
import { deepChain, dependentUpdate, partialApplyUpdate } from './support/hostileUpdates.js'

describe('standaloneSummary', () => {
  it('returns the digest and state vector of what the update holds on its own', () => {
    const src = new Y.Doc()
    src.getText('t').insert(0, 'hello world')
    src.getText('t').delete(0, 6)
    src.getMap('m').set('k', 1)
    const summary = standaloneSummary(Y.encodeStateAsUpdate(src))
    expect(summary).toEqual({ digest: digestOfDoc(src), stateVector: Y.encodeStateVector(src) })
  })

  it('refuses what would be held, nested too deeply or rejected halfway, as assertAppliesWhole does', () => {
    const random = prng(7)
    expect(standaloneSummary(dependentUpdate(random, 10).update)).toBeNull()
    expect(() => wholeSummary(dependentUpdate(random, 10).update)).toThrow(/depends on structs/)
    expect(() => standaloneSummary(deepChain(400).update)).toThrow(/nested deeper/)
    expect(() => standaloneSummary(partialApplyUpdate(random))).toThrow(/cannot be applied/)
    expect(() => standaloneSummary(new Uint8Array([1, 2, 3]))).toThrow(/cannot be applied/)
    expect(wholeSummary(deepChain(10).update).digest).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('ExistenceChecks', () => {
  it('answers the lookups of one turn with one store call, as has() would', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rhizome-existence-'))
    const store = await DocStore.open(new ClassicLevel(dir))
    try {
      const src = new Y.Doc()
      src.getText('t').insert(0, 'x')
      await store.append('a', Y.encodeStateAsUpdate(src))
      await store.append('c', Y.encodeStateAsUpdate(src))
      const calls: string[][] = []
      const hasMany = store.hasMany.bind(store)
      store.hasMany = (names) => {
        calls.push([...names])
        return hasMany(names)
      }
      const checks = new ExistenceChecks(store)
      const names = ['a', 'b', 'c', 'd', 'a']
      expect(await Promise.all(names.map((n) => checks.has(n)))).toEqual([true, false, true, false, true])
      expect(calls).toEqual([names])
      // An invalid name fails alone; the others of its turn are still answered.
      const mixed = await Promise.allSettled([checks.has('a'), checks.has(''), checks.has('b')])
      expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((mixed[0] as PromiseFulfilledResult<boolean>).value).toBe(true)
    } finally {
      await store.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
