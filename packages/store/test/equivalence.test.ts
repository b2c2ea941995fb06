import { digestOfDoc } from '@rhizome/protocol'
import { MemoryLevel } from 'memory-level'
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { DocStore } from '../src/index.js'
import { contentOf, digestOf } from './helpers.js'

const FILE = 'packages/store/test/equivalence.test.ts'

/** One random edit on a text, map or array of `doc`. */
function randomEdit(doc: Y.Doc, rnd: () => number): void {
  const pick = rnd()
  const text = doc.getText('t')
  const map = doc.getMap<unknown>('m')
  const array = doc.getArray<unknown>('a')
  if (pick < 0.35) {
    if (text.length > 0 && rnd() < 0.3)
      text.delete(Math.floor(rnd() * text.length), 1 + Math.floor(rnd() * 3))
    else
      text.insert(
        Math.floor(rnd() * (text.length + 1)),
        String.fromCharCode(97 + Math.floor(rnd() * 26)).repeat(1 + Math.floor(rnd() * 4)),
      )
  } else if (pick < 0.65) {
    const key = `k${Math.floor(rnd() * 8)}`
    if (rnd() < 0.2) map.delete(key)
    else map.set(key, rnd() < 0.5 ? Math.floor(rnd() * 1000) : { nested: [rnd() < 0.5, 'v'] })
  } else if (array.length > 0 && rnd() < 0.3) {
    array.delete(Math.floor(rnd() * array.length), 1)
  } else {
    array.insert(Math.floor(rnd() * (array.length + 1)), [Math.floor(rnd() * 100)])
  }
}

for (const round of [0, 1, 2]) {
  it(`stored state equals a Y.Doc that saw the same random edits (round ${round})`, async () => {
    const seed = (testSeed() + round) >>> 0
    await withSeed(FILE, seed, async () => {
      const rnd = prng(seed)
      const store = await DocStore.open(new MemoryLevel(), { compactAfterUpdates: 1_000_000 })
      const reference = new Y.Doc()
      // Three replicas edit concurrently and sync now and then, so updates depend on each other.
      const replicas = [1, 2, 3].map((id) => {
        const doc = new Y.Doc()
        doc.clientID = id
        return doc
      })
      const appended: Promise<void>[] = []
      for (const doc of replicas) {
        doc.on('update', (update: Uint8Array, origin: unknown) => {
          if (origin === 'sync') return
          Y.applyUpdate(reference, update)
          appended.push(store.append('eq', update))
        })
      }
      for (let step = 0; step < 600; step++) {
        randomEdit(replicas[Math.floor(rnd() * 3)]!, rnd)
        if (rnd() < 0.1) {
          const [a, b] = [replicas[Math.floor(rnd() * 3)]!, replicas[Math.floor(rnd() * 3)]!]
          Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'sync')
        }
        if (step === 300) await store.compact('eq') // a snapshot plus a later log
      }
      await Promise.all(appended)
      const check = async () => {
        const stored = await store.getUpdate('eq')
        expect(stored).not.toBeNull()
        expect(digestOf(stored!)).toBe(digestOfDoc(reference))
        expect(await store.getDigest('eq')).toBe(digestOfDoc(reference))
        expect(contentOf(stored!)).toEqual(contentOf(Y.encodeStateAsUpdate(reference)))
        expect(await store.getStateVector('eq')).toEqual(Y.encodeStateVector(reference))
        const loaded = new Y.Doc()
        await store.loadInto('eq', loaded)
        expect(Y.encodeStateAsUpdate(loaded)).toEqual(Y.encodeStateAsUpdate(reference))
      }
      await check()
      await store.compact('eq')
      expect((await store.info('eq'))?.updates).toBe(0)
      await check()
      await store.close()
    })
  })
}
