import { digestOfDoc, ErrorCode, isRhizomeError } from '@rhizome/protocol'
import type { AbstractLevel } from 'abstract-level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../../test/support/poll.mjs'
import { DocStore, type DocStoreOptions } from '../src/index.js'
import { docRange, metaKey } from '../src/keys.js'
import { collect, contentOf, digestOf, editor, typeInto } from './helpers.js'

/** What a backend's test file provides: a fresh, empty database and a way to dispose of it. */
export interface StoreSetup {
  // biome-ignore lint/suspicious/noExplicitAny: any abstract-level database
  db: AbstractLevel<any, any, any>
  cleanup(): Promise<void>
}

const RAW = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

/** Flips one byte of every stored value whose key starts with `prefix`; returns how many were damaged. */
export async function damage(
  db: StoreSetup['db'],
  range: { gte: string; lt: string },
  which = 0,
): Promise<number> {
  const entries = await db.iterator<string, Uint8Array>({ ...range, ...RAW }).all()
  const targets = which < 0 ? entries : entries.slice(which, which + 1)
  for (const [key, value] of targets) {
    const bad = value.slice()
    const at = Math.min(bad.length - 1, 5)
    bad[at] = bad[at]! ^ 0x5a
    await db.put<string, Uint8Array>(key, bad, RAW)
  }
  return targets.length
}

async function expectCode(work: Promise<unknown>, code: ErrorCode, doc?: string): Promise<void> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  )
  expect(isRhizomeError(err, code), `expected ${code}, got ${String(err)}`).toBe(true)
  if (doc !== undefined) expect((err as { doc?: string }).doc).toBe(doc)
}

/**
 * The behaviour every backend must show. `setup` returns a fresh empty database per test; the
 * suite reopens it (after `DocStore.close()`, which closes it) to check persistence.
 */
export function runStoreConformance(name: string, setup: () => Promise<StoreSetup>): void {
  describe(`DocStore conformance: ${name}`, () => {
    let env: StoreSetup
    let store: DocStore
    const open = async (options?: DocStoreOptions) => {
      store = await DocStore.open(env.db, options)
      return store
    }
    const reopen = async (options?: DocStoreOptions) => {
      await store.close()
      return open(options)
    }

    beforeEach(async () => {
      env = await setup()
      await open()
    })
    afterEach(async () => {
      await store.close()
      await env.cleanup()
    })

    it('has a persistent id and counts documents', async () => {
      expect(store.id).toMatch(/^[0-9a-f]{32}$/)
      expect(store.docCount).toBe(0)
      const ed = editor()
      for (const u of typeInto(ed, 3)) await store.append('a', u)
      for (const u of typeInto(ed, 2)) await store.append('b', u)
      expect(store.docCount).toBe(2)
      const id = store.id
      await reopen()
      expect(store.id).toBe(id)
      expect(store.docCount).toBe(2)
      const other = await setup()
      const fresh = await DocStore.open(other.db)
      expect(fresh.id).not.toBe(id)
      await fresh.close()
      await other.cleanup()
    })

    it('stores appended updates and loads them in one transaction', async () => {
      const ed = editor()
      const updates = typeInto(ed, 50)
      await Promise.all(updates.map((u) => store.append('doc', u)))
      expect(await store.has('doc')).toBe(true)
      const target = new Y.Doc()
      const seen: unknown[] = []
      target.on('update', (_u: Uint8Array, origin: unknown) => seen.push(origin))
      expect(await store.loadInto('doc', target, 'from-store')).toBe(true)
      expect(seen).toEqual(['from-store'])
      expect(target.getText('t').toString()).toBe(ed.doc.getText('t').toString())
      expect(digestOfDoc(target)).toBe(digestOfDoc(ed.doc))
      const merged = await store.getUpdate('doc')
      expect(merged).not.toBeNull()
      expect(digestOf(merged!)).toBe(digestOfDoc(ed.doc))
      expect(contentOf(merged!)).toEqual(contentOf(Y.encodeStateAsUpdate(ed.doc)))
    })

    it('answers null/false for unknown documents', async () => {
      expect(await store.has('nope')).toBe(false)
      expect(await store.loadInto('nope', new Y.Doc())).toBe(false)
      expect(await store.getUpdate('nope')).toBeNull()
      expect(await store.getStateVector('nope')).toBeNull()
      expect(await store.diff('nope', Y.encodeStateVector(new Y.Doc()))).toBeNull()
      expect(await store.getDigest('nope')).toBeNull()
      expect(await store.info('nope')).toBeNull()
      expect(await store.isCorrupt('nope')).toBe(false)
    })

    it('rejects malformed updates and stores nothing', async () => {
      await expectCode(store.append('bad', new Uint8Array([0xff, 0xff, 0xff])), ErrorCode.PROTOCOL_MALFORMED)
      await expectCode(store.append('bad', new Uint8Array(0)), ErrorCode.PROTOCOL_MALFORMED)
      await expect(store.append('bad', 'text' as unknown as Uint8Array)).rejects.toThrow(TypeError)
      await expect(store.append('', Y.encodeStateAsUpdate(new Y.Doc()))).rejects.toThrow(TypeError)
      await store.flush()
      expect(await store.has('bad')).toBe(false)
      expect(store.docCount).toBe(0)
      expect(await collect(store.catalog())).toEqual([])
    })

    it('serves state vectors and diffs', async () => {
      const ed = editor()
      const first = typeInto(ed, 10)
      const peer = new Y.Doc()
      for (const u of first) Y.applyUpdate(peer, u)
      const rest = typeInto(ed, 10, 'y')
      for (const u of [...first, ...rest]) await store.append('sv', u)
      const sv = await store.getStateVector('sv')
      expect(sv).toEqual(Y.encodeStateVector(ed.doc))
      const diff = await store.diff('sv', Y.encodeStateVector(peer))
      expect(diff).not.toBeNull()
      // The diff is smaller than the whole state and brings the peer up to date.
      expect(diff!.length).toBeLessThan((await store.getUpdate('sv'))!.length)
      Y.applyUpdate(peer, diff!)
      expect(digestOfDoc(peer)).toBe(digestOfDoc(ed.doc))
      await expectCode(store.diff('sv', new Uint8Array([0xff])), ErrorCode.PROTOCOL_MALFORMED)
    })

    it('keeps the digest right across appends, compaction and reopen', async () => {
      const ed = editor()
      for (const u of typeInto(ed, 5)) await store.append('d', u)
      expect(await store.getDigest('d')).toBe(digestOfDoc(ed.doc))
      ed.doc.getText('t').delete(0, 3) // a pure deletion changes the digest but not the state vector's clocks of others
      for (const u of ed.updates.slice(-1)) await store.append('d', u)
      expect(await store.getDigest('d')).toBe(digestOfDoc(ed.doc))
      await store.compact('d')
      expect(await store.getDigest('d')).toBe(digestOfDoc(ed.doc))
      await store.flush()
      await reopen()
      expect(await store.getDigest('d')).toBe(digestOfDoc(ed.doc))
      expect((await store.info('d'))?.digest).toBe(digestOfDoc(ed.doc))
    })

    it('takes a noted digest for the current state and drops it at the next append', async () => {
      const ed = editor()
      for (const u of typeInto(ed, 4)) await store.append('noted', u)
      // A digest noted by a holder of the state is served as is (the store cannot tell it from its own).
      await store.noteDigest('noted', 'f'.repeat(64), Y.encodeStateVector(ed.doc))
      expect(await store.getDigest('noted')).toBe('f'.repeat(64))
      // An append issued after the note clears it: the digest is recomputed from the records.
      for (const u of typeInto(ed, 1)) await store.append('noted', u)
      expect(await store.getDigest('noted')).toBe(digestOfDoc(ed.doc))
      // A cached digest is not replaced by a later note.
      await store.noteDigest('noted', '0'.repeat(64), Y.encodeStateVector(ed.doc))
      expect(await store.getDigest('noted')).toBe(digestOfDoc(ed.doc))
      // Unknown documents are not created by a note.
      await store.noteDigest('nobody', '1'.repeat(64), new Uint8Array([0]))
      expect(await store.has('nobody')).toBe(false)
    })

    it('lists the catalog in name order, paged, with digests', async () => {
      const names: string[] = []
      const digests = new Map<string, string>()
      await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const name = `doc/${(i * 7919) % 300}`
          names.push(name)
          const ed = editor(i + 1)
          for (const u of typeInto(ed, 1 + (i % 3))) await store.append(name, u)
          digests.set(name, digestOfDoc(ed.doc))
        }),
      )
      names.sort()
      const all = await collect(store.catalog())
      expect(all.map((e) => e.name)).toEqual(names)
      for (const e of all) {
        expect(e.digest).toBe(digests.get(e.name))
        expect(e.corrupt).toBe(false)
        expect(e.bytes).toBeGreaterThan(0)
        expect(e.updates).toBeGreaterThanOrEqual(1)
      }
      const paged: string[] = []
      let after: string | undefined
      for (;;) {
        const page = await collect(store.catalog({ after, limit: 64 }))
        paged.push(...page.map((e) => e.name))
        if (page.length < 64) break
        after = page[page.length - 1]!.name
      }
      expect(paged).toEqual(names)
      expect((await collect(store.catalog({ after: names[10], limit: 3 }))).map((e) => e.name)).toEqual(
        names.slice(11, 14),
      )
      expect(await collect(store.catalog({ limit: 0 }))).toEqual([])
      // Digests computed by the catalog were written back: they survive a reopen without recomputation.
      await reopen()
      expect((await collect(store.catalog({ limit: 5 }))).map((e) => e.digest)).toEqual(
        names.slice(0, 5).map((n) => digests.get(n)),
      )
    })

    it('compacts on demand into one snapshot without changing the state', async () => {
      const ed = editor()
      for (const u of typeInto(ed, 40)) await store.append('c', u)
      const before = await store.info('c')
      expect(before?.updates).toBe(40)
      await store.compact('c')
      const after = await store.info('c')
      expect(after?.updates).toBe(0)
      expect(after?.digest).toBe(digestOfDoc(ed.doc))
      expect(after!.bytes).toBeLessThan(before!.bytes)
      const entries = await env.db.keys<string>({ ...docRange('c'), keyEncoding: 'utf8' }).all()
      expect(entries).toHaveLength(1)
      expect(digestOf((await store.getUpdate('c'))!)).toBe(digestOfDoc(ed.doc))
      await store.compact('c') // idempotent
      await store.compact('unknown') // no-op
      expect(await store.has('unknown')).toBe(false)
    })

    it('compacts automatically past the threshold without losing concurrent appends', async () => {
      await reopen({ compactAfterUpdates: 10 })
      const ed = editor()
      const updates = typeInto(ed, 200)
      // Appends race the background compactions they trigger.
      for (let i = 0; i < updates.length; i += 20) {
        await Promise.all(updates.slice(i, i + 20).map((u) => store.append('auto', u)))
      }
      await eventually(async () => ((await store.info('auto'))?.updates ?? 99) < 10, {
        what: 'auto compaction',
        timeout: 10_000,
        interval: 10,
      })
      expect(await store.getDigest('auto')).toBe(digestOfDoc(ed.doc))
      const loaded = new Y.Doc()
      await store.loadInto('auto', loaded)
      expect(loaded.getText('t').toString()).toBe(ed.doc.getText('t').toString())
      await reopen()
      expect(await store.getDigest('auto')).toBe(digestOfDoc(ed.doc))
    })

    it('keeps appends that race an explicit compaction', async () => {
      const ed = editor()
      const updates = typeInto(ed, 100)
      for (const u of updates.slice(0, 50)) await store.append('race', u)
      await Promise.all([store.compact('race'), ...updates.slice(50).map((u) => store.append('race', u))])
      await store.compact('race')
      expect(await store.getDigest('race')).toBe(digestOfDoc(ed.doc))
      expect((await store.info('race'))?.updates).toBe(0)
    })

    it('group-commits concurrent appends from many documents', async () => {
      const commits: { ops: number; docs: number }[] = []
      await reopen({ onCommit: (info) => commits.push(info) })
      const eds = Array.from({ length: 20 }, (_, i) => editor(i + 1))
      const work = eds.flatMap((ed, i) => typeInto(ed, 5).map((u) => store.append(`g${i}`, u)))
      await Promise.all(work)
      const ops = commits.reduce((n, c) => n + c.ops, 0)
      expect(ops).toBe(100)
      expect(commits.length).toBeLessThan(100)
      expect(Math.max(...commits.map((c) => c.docs))).toBeGreaterThan(1)
    })

    it('flush resolves after every issued append is durable; close flushes and then refuses', async () => {
      const ed = editor()
      const pending = typeInto(ed, 30).map((u) => store.append('f', u))
      await store.flush()
      // Durable by now: all 30 log records are in the database.
      expect(await env.db.keys({ ...docRange('f'), keyEncoding: 'utf8' }).all()).toHaveLength(30)
      await Promise.all(pending)
      const more = typeInto(ed, 10).map((u) => store.append('f', u))
      const closed = store.close()
      await Promise.all(more)
      await closed
      await store.close() // idempotent
      await expectCode(store.append('f', ed.updates[0]!), ErrorCode.STORE_CLOSED)
      await expectCode(store.getUpdate('f'), ErrorCode.STORE_CLOSED)
      await expectCode(store.flush(), ErrorCode.STORE_CLOSED)
      await expectCode(store.has('f'), ErrorCode.STORE_CLOSED)
      await expect(collect(store.catalog())).rejects.toThrow(/closed/)
      await open()
      expect(await store.getDigest('f')).toBe(digestOfDoc(ed.doc))
    })

    it('persists everything across reopen', async () => {
      const eds = [editor(1), editor(2)]
      for (const u of typeInto(eds[0]!, 20)) await store.append('p1', u)
      for (const u of typeInto(eds[1]!, 20)) await store.append('p2', u)
      await store.compact('p1')
      for (const u of typeInto(eds[0]!, 5, 'z')) await store.append('p1', u)
      await reopen()
      expect(store.docCount).toBe(2)
      expect(await store.getDigest('p1')).toBe(digestOfDoc(eds[0]!.doc))
      expect(await store.getDigest('p2')).toBe(digestOfDoc(eds[1]!.doc))
      expect((await store.info('p1'))?.updates).toBe(5)
      // New appends after reopen get fresh keys and do not overwrite old ones.
      for (const u of typeInto(eds[1]!, 5, 'w')) await store.append('p2', u)
      expect(await store.getDigest('p2')).toBe(digestOfDoc(eds[1]!.doc))
    })

    it('detects damaged records, quarantines the document and repairs it from a peer', async () => {
      const good = editor(1)
      const bad = editor(2)
      for (const u of typeInto(good, 10)) await store.append('good', u)
      for (const u of typeInto(bad, 10)) await store.append('bad', u)
      expect(await damage(env.db, docRange('bad'), 3)).toBe(1)
      await expectCode(store.getUpdate('bad'), ErrorCode.STORE_CORRUPT, 'bad')
      expect(await store.isCorrupt('bad')).toBe(true)
      await expectCode(store.loadInto('bad', new Y.Doc()), ErrorCode.STORE_CORRUPT, 'bad')
      await expectCode(store.getDigest('bad'), ErrorCode.STORE_CORRUPT, 'bad')
      expect(await store.getDigest('good')).toBe(digestOfDoc(good.doc))
      expect(await collect(store.corruptDocs())).toEqual(['bad'])
      const listed = await collect(store.catalog())
      expect(listed.map((e) => [e.name, e.corrupt, e.digest === null])).toEqual([
        ['bad', true, true],
        ['good', false, false],
      ])
      // The marker is persisted.
      await reopen()
      expect(await store.isCorrupt('bad')).toBe(true)
      await store.repair('bad', Y.encodeStateAsUpdate(bad.doc))
      expect(await store.isCorrupt('bad')).toBe(false)
      expect(await collect(store.corruptDocs())).toEqual([])
      expect(await store.getDigest('bad')).toBe(digestOfDoc(bad.doc))
      await reopen()
      expect(await store.isCorrupt('bad')).toBe(false)
      expect(digestOf((await store.getUpdate('bad'))!)).toBe(digestOfDoc(bad.doc))
    })

    it('treats a damaged meta record as corruption but keeps accepting appends', async () => {
      const ed = editor()
      for (const u of typeInto(ed, 5)) await store.append('m', u)
      await store.close()
      await env.db.open()
      expect(await damage(env.db, { gte: metaKey('m'), lt: `${metaKey('m')}\u0000` })).toBe(1)
      await open()
      await expectCode(store.getDigest('m'), ErrorCode.STORE_CORRUPT, 'm')
      for (const u of typeInto(ed, 3, 'q')) await store.append('m', u)
      expect(await store.isCorrupt('m')).toBe(true)
      await store.repair('m', new Uint8Array([0, 0]))
      expect(await store.getDigest('m')).toBe(digestOfDoc(ed.doc))
      expect((await store.info('m'))?.corrupt).toBe(false)
    })
  })
}
