import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DocStore } from '../src/index.js'
import type { StoreSetup } from './conformance.js'
import { collect, editor, typeInto } from './helpers.js'

/**
 * The change feed and local state every backend must show: what a device's catch-up and its
 * checkpoints rely on (docs/PROTOCOL.md section 7.1, "catch-up costs what changed").
 */
export function runChangeFeedConformance(name: string, setup: () => Promise<StoreSetup>): void {
  describe(`DocStore change feed: ${name}`, () => {
    let env: StoreSetup
    let store: DocStore

    beforeEach(async () => {
      env = await setup()
      store = await DocStore.open(env.db)
    })
    afterEach(async () => {
      await store.close()
      await env.cleanup()
    })

    const names = async (seq: number) => (await collect(store.changesSince(seq))).map((c) => c.name)

    it('lists each changed document once, in the order of its last change, from any sequence number', async () => {
      expect(store.changeSeq).toBe(0)
      expect(await names(0)).toEqual([])
      const a = editor(1)
      const b = editor(2)
      const c = editor(3)
      await store.append('a', typeInto(a, 1)[0]!)
      await store.append('b', typeInto(b, 1)[0]!)
      const afterB = store.changeSeq
      await store.append('c', typeInto(c, 1)[0]!)
      await store.append('a', typeInto(a, 1)[0]!)
      expect(await names(0)).toEqual(['b', 'c', 'a'])
      expect(await names(afterB)).toEqual(['c', 'a'])
      expect(await names(store.changeSeq)).toEqual([])
      const seqs = (await collect(store.changesSince(0))).map((r) => r.seq)
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
      expect(seqs.at(-1)).toBe(store.changeSeq)
    })

    it('gives one sequence number per document per commit, and keeps the head across reopen', async () => {
      const ed = editor(1)
      await Promise.all(typeInto(ed, 20).map((u) => store.append('doc', u)))
      const head = store.changeSeq
      expect(head).toBeGreaterThan(0)
      expect(await names(0)).toEqual(['doc'])
      await store.close()
      store = await DocStore.open(env.db)
      expect(store.changeSeq).toBe(head)
      await store.append('other', typeInto(editor(2), 1)[0]!)
      expect(store.changeSeq).toBe(head + 1)
      expect(await names(head)).toEqual(['other'])
    })

    it('does not count compaction or digest caching as a change; counts a repair', async () => {
      const ed = editor(1)
      for (const u of typeInto(ed, 5)) await store.append('doc', u)
      const head = store.changeSeq
      await store.compact('doc')
      await store.getDigest('doc')
      await store.settle()
      expect(store.changeSeq).toBe(head)
      await store.repair('doc', typeInto(ed, 1)[0]!)
      expect(store.changeSeq).toBe(head + 1)
      expect(await names(head)).toEqual(['doc'])
    })

    it('lists the catalog of one prefix only, from the prefix itself on', async () => {
      const ed = editor(1)
      const update = typeInto(ed, 1)[0]!
      for (const n of ['a', 'notes', 'notes/1', 'notes/2', 'notesx', 'z']) await store.append(n, update)
      const listed = async (options: { prefix?: string; after?: string; limit?: number }) =>
        (await collect(store.catalog(options))).map((e) => e.name)
      expect(await listed({ prefix: 'notes/' })).toEqual(['notes/1', 'notes/2'])
      expect(await listed({ prefix: 'notes' })).toEqual(['notes', 'notes/1', 'notes/2', 'notesx'])
      expect(await listed({ prefix: 'notes/', after: 'notes/1' })).toEqual(['notes/2'])
      expect(await listed({ prefix: 'notes', limit: 2 })).toEqual(['notes', 'notes/1'])
      expect(await listed({ prefix: 'q' })).toEqual([])
    })

    it('keeps the document count in a record of its own, across reopen, creations and purges', async () => {
      const update = typeInto(editor(1), 1)[0]!
      for (const n of ['a', 'b', 'c']) await store.append(n, update)
      await store.append('a', update)
      expect(store.docCount).toBe(3)
      await store.purgeDocument('b')
      expect(store.docCount).toBe(2)
      await store.close()
      // Opening reads the record instead of counting: it must hold the count the commits left.
      await env.db.open()
      const raw = await env.db.get('s:docs', { keyEncoding: 'utf8', valueEncoding: 'view' })
      expect(raw).toBeDefined()
      store = await DocStore.open(env.db)
      expect(store.docCount).toBe(2)
      expect((await collect(store.catalog())).map((e) => e.name)).toEqual(['a', 'c'])
    })

    it('keeps local state durable across reopen, out of the catalog and the change feed', async () => {
      expect(await store.getLocal('checkpoint/r1')).toBeNull()
      await store.putLocal('checkpoint/r1', new Uint8Array([1, 2, 3]))
      await store.putLocal('checkpoint/r1', new Uint8Array([4]))
      expect(await store.getLocal('checkpoint/r1')).toEqual(new Uint8Array([4]))
      await store.close()
      store = await DocStore.open(env.db)
      expect(await store.getLocal('checkpoint/r1')).toEqual(new Uint8Array([4]))
      expect(await collect(store.catalog())).toEqual([])
      expect(store.docCount).toBe(0)
      expect(store.changeSeq).toBe(0)
    })
  })
}
