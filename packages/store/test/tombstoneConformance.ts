import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DocStore } from '../src/index.js'
import { tombstoneKey } from '../src/keys.js'
import { damage, type StoreSetup } from './conformance.js'
import { collect, editor, typeInto } from './helpers.js'

/**
 * Tombstones every backend must keep (docs/PROTOCOL.md section 9): durable, last writer wins with
 * deletes winning ties, listed in the change feed, kept after the document's bytes are purged.
 */
export function runTombstoneConformance(name: string, setup: () => Promise<StoreSetup>): void {
  describe(`DocStore tombstones: ${name}`, () => {
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
    const reopen = async () => {
      await store.close()
      store = await DocStore.open(env.db)
    }
    const feed = async (seq: number) => (await collect(store.changesSince(seq))).map((c) => c.name)

    it('writes a tombstone that survives a reopen and lists it', async () => {
      await store.append('a', typeInto(editor(1), 1)[0]!)
      expect(store.deletedAt('a')).toBeNull()
      expect(await store.tombstone('a', 1000)).toBe(true)
      expect(store.deletedAt('a')).toBe(1000)
      expect(await store.tombstone('never-stored', 2000)).toBe(true)
      await reopen()
      expect(store.deletedAt('a')).toBe(1000)
      expect(store.tombstones()).toEqual([
        { name: 'a', deleted: true, at: 1000 },
        { name: 'never-stored', deleted: true, at: 2000 },
      ])
      expect(store.tombstones({ after: 'a', limit: 1 })).toEqual([
        { name: 'never-stored', deleted: true, at: 2000 },
      ])
      // The content is still there until purged: an undelete brings it back.
      expect(await store.getUpdate('a')).not.toBeNull()
    })

    it('merges last-writer-wins, a delete winning ties', async () => {
      expect(await store.mergeTombstone({ name: 'a', deleted: false, at: 5 })).toBe(false)
      expect(store.tombstoneOf('a')).toBeNull()
      expect(await store.tombstone('a', 100)).toBe(true)
      expect(await store.mergeTombstone({ name: 'a', deleted: false, at: 100 })).toBe(false)
      expect(await store.mergeTombstone({ name: 'a', deleted: false, at: 99 })).toBe(false)
      expect(await store.tombstone('a', 50)).toBe(false)
      expect(store.deletedAt('a')).toBe(100)
      expect(await store.mergeTombstone({ name: 'a', deleted: false, at: 101 })).toBe(true)
      expect(store.deletedAt('a')).toBeNull()
      expect(store.tombstoneOf('a')).toEqual({ name: 'a', deleted: false, at: 101 })
      expect(store.tombstones()).toEqual([])
      expect(store.tombstones({ includeLive: true })).toEqual([{ name: 'a', deleted: false, at: 101 }])
      // An older delete arriving late loses to the undelete.
      expect(await store.mergeTombstone({ name: 'a', deleted: true, at: 100 })).toBe(false)
      expect(await store.mergeTombstone({ name: 'a', deleted: true, at: 101 })).toBe(true)
      await reopen()
      expect(store.deletedAt('a')).toBe(101)
    })

    it('undelete always wins over the delete it undoes', async () => {
      const future = Date.now() + 60_000
      await store.tombstone('a', future)
      expect(await store.undelete('a')).toBe(true)
      expect(store.tombstoneOf('a')).toEqual({ name: 'a', deleted: false, at: future + 1 })
      expect(await store.undelete('a')).toBe(false)
    })

    it('gives deletions and undeletions change sequence numbers, each document once', async () => {
      const ed = editor(1)
      await store.append('a', typeInto(ed, 1)[0]!)
      await store.append('b', typeInto(editor(2), 1)[0]!)
      const before = store.changeSeq
      await store.tombstone('a', 10)
      expect(store.changeSeq).toBe(before + 1)
      expect(await feed(0)).toEqual(['b', 'a'])
      expect(await feed(before)).toEqual(['a'])
      await store.tombstone('c', 11)
      const deleted = store.changeSeq
      expect(await feed(before)).toEqual(['a', 'c'])
      await store.undelete('a', 20)
      expect(await feed(deleted)).toEqual(['a'])
      expect(await feed(0)).toEqual(['b', 'c', 'a'])
      await reopen()
      expect(await feed(0)).toEqual(['b', 'c', 'a'])
    })

    it('keeps the tombstone when the bytes are purged', async () => {
      await store.append('a', typeInto(editor(1), 3)[0]!)
      await store.tombstone('a', 10)
      await store.purgeDocument('a')
      expect(await store.has('a')).toBe(false)
      expect(store.docCount).toBe(0)
      await reopen()
      expect(store.deletedAt('a')).toBe(10)
      expect(await feed(0)).toEqual(['a'])
    })

    it('skips a damaged tombstone record at open and reports it', async () => {
      await store.tombstone('a', 10)
      await store.close()
      await env.db.open()
      expect(await damage(env.db, { gte: tombstoneKey('a'), lt: `${tombstoneKey('a')}\u0000` })).toBe(1)
      const errors: unknown[] = []
      store = await DocStore.open(env.db, { onError: (e) => errors.push(e) })
      expect(store.deletedAt('a')).toBeNull()
      expect(errors).toHaveLength(1)
    })
  })
}
