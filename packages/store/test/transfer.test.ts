import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { DocStore, inspectWholeState, type StoredDoc } from '../src/index.js'
import { type AnyLevel, RAW } from '../src/records.js'
import { contentOf, digestOf, editor, typeInto } from './helpers.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

async function classicStore(): Promise<{ store: DocStore; db: AnyLevel }> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-transfer-'))
  const db = new ClassicLevel(dir)
  const store = await DocStore.open(db)
  cleanups.push(async () => {
    if (db.status === 'open') await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { store, db }
}

/** Every data record (`d:` keys) of a database, as key => bytes. */
async function dataRecords(db: AnyLevel): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const [key, value] of db.iterator<string, Uint8Array>({ gt: 'd:', lt: 'd;', ...RAW }))
    out.set(key, Buffer.from(value).toString('hex'))
  return out
}

const HOUR = 3_600_000

/** A source store with `count` documents: even ones compacted (snapshot and log), odd ones log only. */
async function sourceWith(
  count: number,
): Promise<{ store: DocStore; db: AnyLevel; states: Map<string, Uint8Array> }> {
  const { store, db } = await classicStore()
  const states = new Map<string, Uint8Array>()
  const past = Date.now() - 2 * HOUR
  for (let i = 0; i < count; i++) {
    const name = `notes/${String(i).padStart(3, '0')}`
    const ed = editor(100 + i)
    for (const u of typeInto(ed, 6, `a${i}-`)) await store.append(name, u, { at: past })
    if (i % 2 === 0) await store.compact(name)
    for (const u of typeInto(ed, 3, `b${i}-`)) await store.append(name, u)
    states.set(name, Y.encodeStateAsUpdate(ed.doc))
  }
  return { store, db, states }
}

describe('DocStore.transfer', () => {
  it('moves documents whole: records, checksums, receive times and digests kept', async () => {
    const source = await sourceWith(20)
    const names = [...source.states.keys()]
    for (const name of names) await source.store.getDigest(name) // cached, as a serving relay has them
    const { docs, unavailable } = await source.store.transfer.export(names)
    expect(unavailable).toEqual([])
    expect(docs.map((d) => d.name)).toEqual(names)

    const target = await classicStore()
    const adopted = await Promise.all(docs.map((d) => target.store.transfer.adopt(d)))
    expect(adopted.map((a) => a.outcome)).toEqual(names.map(() => 'stored'))

    // Byte for byte the same records under the same keys: checksums and receive times kept.
    expect(await dataRecords(target.db)).toEqual(await dataRecords(source.db))
    for (const name of names) {
      expect(contentOf((await target.store.getUpdate(name))!)).toEqual(contentOf(source.states.get(name)!))
      expect(await target.store.getDigest(name)).toBe(digestOf(source.states.get(name)!))
      expect(await target.store.stateAt(name, Date.now() - HOUR)).toEqual(
        await source.store.stateAt(name, Date.now() - HOUR),
      )
    }
    expect(target.store.docCount).toBe(20)
    const scrub = await target.store.scrub()
    expect(scrub.corrupt).toEqual([])
    // Every adopted document got a change record: a device catching up is told about each.
    const changed: string[] = []
    for await (const c of target.store.changesSince(0)) changed.push(c.name)
    expect(changed.sort()).toEqual(names)
  })

  it('computes a digest for documents exported without one', async () => {
    const source = await sourceWith(3)
    const { docs } = await source.store.transfer.export([...source.states.keys()])
    for (const doc of docs) expect(doc.digest).toBe(digestOf(source.states.get(doc.name)!))
  })

  it('stops at a document boundary past maxBytes; unknown names are unavailable', async () => {
    const source = await sourceWith(10)
    const names = [...source.states.keys(), 'notes/zzz-unknown']
    const first = await source.store.transfer.export(names, 1)
    expect(first.docs.map((d) => d.name)).toEqual([names[0]])
    expect(first.unavailable).toEqual([])
    const rest = await source.store.transfer.export(names.slice(1))
    expect(rest.docs).toHaveLength(9)
    expect(rest.unavailable).toEqual(['notes/zzz-unknown'])
  })

  it('leaves a document the store already holds untouched', async () => {
    const source = await sourceWith(1)
    const [doc] = (await source.store.transfer.export(['notes/000'])).docs
    const target = await classicStore()
    const own = editor(7)
    for (const u of typeInto(own, 2, 'mine')) await target.store.append('notes/000', u)
    const before = await dataRecords(target.db)
    expect((await target.store.transfer.adopt(doc!)).outcome).toBe('held')
    expect(await dataRecords(target.db)).toEqual(before)
  })

  it('refuses damaged, foreign or incomplete records and stores nothing', async () => {
    const source = await sourceWith(2)
    const [doc] = (await source.store.transfer.export(['notes/001'])).docs
    const target = await classicStore()
    const flipped: StoredDoc = {
      ...doc!,
      records: doc!.records.map((r, i) => {
        if (i > 0) return r
        const value = r.value.slice()
        value[value.length - 1]! ^= 1
        return { ...r, value }
      }),
    }
    const foreign: StoredDoc = { ...doc!, records: [{ suffix: 'x', value: doc!.records[0]!.value }] }
    const moved: StoredDoc = { ...doc!, name: 'notes/elsewhere' }
    const partial: StoredDoc = { ...doc!, records: doc!.records.slice(1) }
    for (const bad of [flipped, foreign, moved, partial]) {
      await expect(target.store.transfer.adopt(bad)).rejects.toMatchObject({
        code: ErrorCode.PROTOCOL_MALFORMED,
      })
    }
    expect(target.store.docCount).toBe(0)
    expect(await dataRecords(target.db)).toEqual(new Map())
  })

  it('keeps the sender digest only when the records hold its state vector', async () => {
    const source = await sourceWith(1)
    const [doc] = (await source.store.transfer.export(['notes/000'])).docs
    const other = editor(9)
    typeInto(other, 2)
    const target = await classicStore()
    await target.store.transfer.adopt({
      ...doc!,
      digest: 'not-this',
      stateVector: Y.encodeStateVector(other.doc),
    })
    expect(await target.store.getDigest('notes/000')).toBe(digestOf(source.states.get('notes/000')!))
  })
})

describe('inspectWholeState', () => {
  it('gives the state vector of updates that need nothing else', () => {
    const ed = editor(3)
    const updates = typeInto(ed, 10)
    const state = inspectWholeState(updates)
    expect(Y.decodeStateVector(state.stateVector)).toEqual(Y.decodeStateVector(Y.encodeStateVector(ed.doc)))
    expect(state.nested).toBe(false)
  })

  it('refuses updates that depend on structs they lack', () => {
    const ed = editor(3)
    const updates = typeInto(ed, 10)
    expect(() => inspectWholeState(updates.slice(1))).toThrow(/not a whole document/)
    const other = editor(4)
    Y.applyUpdate(other.doc, Y.encodeStateAsUpdate(ed.doc))
    other.doc.getText('t').insert(3, 'inside')
    // Only the other client's insert: its origin points into client 3's text.
    const own = Y.encodeStateAsUpdate(other.doc, Y.encodeStateVector(ed.doc))
    expect(() => inspectWholeState([own])).toThrow(/lacks/)
    expect(() => inspectWholeState([new Uint8Array([1, 2, 3])])).toThrow(/not a whole document/)
  })

  it('flags nested shared types', () => {
    const ed = editor(5)
    const inner = new Y.Map()
    ed.doc.getMap('root').set('child', inner)
    inner.set('k', 1)
    expect(inspectWholeState([Y.encodeStateAsUpdate(ed.doc)]).nested).toBe(true)
    expect(inspectWholeState([Y.encodeStateAsUpdate(editor(6).doc)]).nested).toBe(false)
  })
})
