import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { DocStore } from '../src/index.js'
import { collect } from './helpers.js'

const FILE = 'packages/store/test/appendsAcrossCommits.test.ts'
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

// Bursts of appends to a few documents spread over many group commits (some within one tick, some
// after the previous commit was handed over): what the store counts (documents, updates, one change
// record per document) and what it reads back must match, also after reopening.
it('appends spread over many group commits count, number and read back exactly, also after reopening', async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    const dir = await mkdtemp(join(tmpdir(), 'rhizome-appends-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const DOCS = 12
    const docs = Array.from({ length: DOCS }, (_, i) => {
      const doc = new Y.Doc()
      doc.clientID = i + 1
      return doc
    })
    const expected = new Array<number>(DOCS).fill(0)
    // No compaction: every append stays one log record, which `info().updates` counts.
    const options = { compactAfterUpdates: 1e9, compactAfterBytes: 1e12 }
    let store = await DocStore.open(new ClassicLevel(dir), options)
    const pending: Promise<void>[] = []
    for (let round = 0; round < 40; round++) {
      // A few appends now, the rest after the batch they would have joined was handed over.
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) {
        const i = Math.floor(rnd() * DOCS)
        const before = Y.encodeStateVector(docs[i]!)
        docs[i]!.getText('t').insert(0, `${round}.${k} `)
        pending.push(store.append(`doc-${i}`, Y.encodeStateAsUpdate(docs[i]!, before)))
        expected[i]!++
      }
      if (rnd() < 0.5) await new Promise((r) => setImmediate(r))
    }
    await Promise.all(pending)
    const check = async (s: DocStore) => {
      const touched = expected.map((n, i) => [n, i] as const).filter(([n]) => n > 0)
      expect(s.docCount).toBe(touched.length)
      const changes = await collect(s.changesSince(0))
      // One change record per document, numbered without reuse.
      expect(changes.map((c) => c.name).sort()).toEqual(touched.map(([, i]) => `doc-${i}`).sort())
      expect(new Set(changes.map((c) => c.seq)).size).toBe(changes.length)
      expect(Math.max(...changes.map((c) => c.seq))).toBe(s.changeSeq)
      for (const [n, i] of touched) {
        const info = await s.info(`doc-${i}`)
        expect(info?.updates).toBe(n)
        const read = new Y.Doc()
        await s.loadInto(`doc-${i}`, read)
        expect(read.getText('t').toString()).toBe(docs[i]!.getText('t').toString())
      }
    }
    await check(store)
    await store.close()
    store = await DocStore.open(new ClassicLevel(dir), options)
    await check(store)
    await store.close()
  })
})
