import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DocStore } from '../src/index.js'
import { docRange } from '../src/keys.js'
import { damage, type StoreSetup } from './conformance.js'
import { collect, digestOf, editor, typeInto } from './helpers.js'

/**
 * The bulk reads every backend must show: `scanStates` (a device pushing every document to a wiped
 * relay reads them in one scan) and `hasMany` (a relay refilled by a device asks whether thousands
 * of documents exist).
 */
export function runScanConformance(name: string, setup: () => Promise<StoreSetup>): void {
  describe(`DocStore bulk reads: ${name}`, () => {
    let env: StoreSetup
    let store: DocStore

    beforeEach(async () => {
      env = await setup()
      store = await DocStore.open(env.db, { compactAfterUpdates: 1_000_000 })
    })
    afterEach(async () => {
      await store.close()
      await env.cleanup()
    })

    it('scanStates yields every document under the prefix, in name order, with its whole state', async () => {
      // One log record, several log records, a compacted snapshot, a snapshot plus a newer log.
      const single = editor(1)
      await store.append('notes/a', typeInto(single, 5)[0]!)
      const many = editor(2)
      for (const u of typeInto(many, 12)) await store.append('notes/b', u)
      const compacted = editor(3)
      for (const u of typeInto(compacted, 8)) await store.append('notes/c', u)
      await store.compact('notes/c')
      const mixed = editor(4)
      for (const u of typeInto(mixed, 6)) await store.append('notes/d', u)
      await store.compact('notes/d')
      for (const u of typeInto(mixed, 3, 'y')) await store.append('notes/d', u)
      // Names around the prefix that must not be listed: no slash, the next character, a longer word.
      for (const other of ['notes', 'notes0', 'notesX/a', 'note/a', 'a']) {
        await store.append(other, typeInto(editor(9), 1)[0]!)
      }

      const scanned = await collect(store.scanStates('notes/'))
      expect(scanned.map((s) => s.name)).toEqual(['notes/a', 'notes/b', 'notes/c', 'notes/d'])
      for (const { name, update } of scanned) {
        expect(digestOf(update), name).toBe(digestOf((await store.getUpdate(name))!))
        expect(digestOf(update), name).toBe(await store.getDigest(name))
      }
      expect((await collect(store.scanStates())).map((s) => s.name)).toEqual([
        'a',
        'note/a',
        'notes',
        'notes/a',
        'notes/b',
        'notes/c',
        'notes/d',
        'notes0',
        'notesX/a',
      ])
      expect(await collect(store.scanStates('zzz'))).toEqual([])
    })

    it('scanStates reads past pages the backend cuts short (by bytes), to the last document', async () => {
      // 400 documents of ~300 bytes: more than one 16 KiB page of a classic-level iterator.
      const names: string[] = []
      for (let i = 0; i < 400; i++) {
        const name = `p/${String(i).padStart(4, '0')}`
        names.push(name)
        const ed = editor(7)
        ed.doc.getText('t').insert(0, `${'z'.repeat(300)}${i}`)
        await store.append(name, ed.updates[0]!)
      }
      expect((await collect(store.scanStates('p/'))).map((s) => s.name)).toEqual(names)
    })

    it('scanStates leaves out a document with a damaged record, quarantines it, and yields the rest', async () => {
      for (const n of ['d/1', 'd/2', 'd/3']) {
        const ed = editor(5)
        for (const u of typeInto(ed, 3)) await store.append(n, u)
      }
      expect(await damage(env.db, docRange('d/2'))).toBe(1)
      // Reopen so that nothing of d/2 is cached in memory.
      await store.close()
      store = await DocStore.open(env.db)
      expect((await collect(store.scanStates('d/'))).map((s) => s.name)).toEqual(['d/1', 'd/3'])
      expect(await store.isCorrupt('d/2')).toBe(true)
      expect((await collect(store.scanStates('d/'))).map((s) => s.name)).toEqual(['d/1', 'd/3'])
    })

    it('noteFirstDigest records the summary only when the update just appended is all the document holds', async () => {
      const fresh = typeInto(editor(8), 2)
      const first = fresh[0]!
      const sv = new Uint8Array([1, 8, 1])
      // A stand-in digest: proves the noted value is what the catalog serves, without a merge.
      const appended = store.append('f/new', first)
      const noted = store.noteFirstDigest('f/new', 'noted-digest', sv)
      await Promise.all([appended, noted])
      expect(await store.getDigest('f/new')).toBe('noted-digest')
      expect((await collect(store.catalog({ prefix: 'f/' })))[0]!.digest).toBe('noted-digest')
      // A second update makes the summary stale as usual.
      await store.append('f/new', fresh[1]!)
      expect(await store.getDigest('f/new')).toBe(digestOf((await store.getUpdate('f/new'))!))

      // A document that held something before: the note is ignored, the true digest is computed.
      const ed = editor(10)
      await store.append('f/old', typeInto(ed, 1)[0]!)
      const later = typeInto(ed, 1)[0]!
      await Promise.all([store.append('f/old', later), store.noteFirstDigest('f/old', 'wrong', sv)])
      expect(await store.getDigest('f/old')).toBe(digestOf((await store.getUpdate('f/old'))!))
      // An unknown document: nothing to record.
      await store.noteFirstDigest('f/none', 'x', sv)
      expect(await store.has('f/none')).toBe(false)
    })

    it('hasMany answers as has does, for cached, uncached and unknown documents', async () => {
      for (const n of ['x/1', 'x/2']) await store.append(n, typeInto(editor(6), 1)[0]!)
      const names = ['x/1', 'nope', 'x/2', 'x/3']
      expect(await store.hasMany(names)).toEqual([true, false, true, false])
      await store.close()
      store = await DocStore.open(env.db)
      expect(await store.hasMany(names)).toEqual(await Promise.all(names.map((n) => store.has(n))))
      expect(await store.hasMany([])).toEqual([])
      await expect(store.hasMany(['ok', ''])).rejects.toThrow(TypeError)
    })
  })
}
