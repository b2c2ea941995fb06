import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { digestOfDoc, ErrorCode, isRhizomeError } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import { afterEach, expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { DocStore } from '../src/index.js'
import { docRange, metaKey, snapshotKey } from '../src/keys.js'
import { damage } from './conformance.js'
import { collect, editor, typeInto } from './helpers.js'

const FILE = 'packages/store/test/corruption.test.ts'
const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

type Damage = 'log' | 'snapshot' | 'meta'

it('reports exactly the damaged documents, keeps serving the others, and repairs from a peer', async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    const dir = await mkdtemp(join(tmpdir(), 'rhizome-corrupt-'))
    dirs.push(dir)
    const db = new ClassicLevel(dir)
    let store = await DocStore.open(db)
    const names = Array.from({ length: 24 }, (_, i) => `doc-${String(i).padStart(2, '0')}`)
    const peers = new Map<string, Y.Doc>()
    for (const [i, name] of names.entries()) {
      const ed = editor(i + 1)
      for (const u of typeInto(ed, 5 + Math.floor(rnd() * 20))) await store.append(name, u)
      if (i % 2 === 0) {
        await store.compact(name) // half have a snapshot
        for (const u of typeInto(ed, 3, 'after')) await store.append(name, u)
      }
      peers.set(name, ed.doc)
    }
    await store.close()

    // Damage a seeded selection through the raw database: log records, snapshots, meta records.
    await db.open()
    const damaged = new Map<string, Damage>()
    for (const [i, name] of names.entries()) {
      if (rnd() >= 0.35) continue
      const kinds: Damage[] = i % 2 === 0 ? ['log', 'snapshot', 'meta'] : ['log', 'meta']
      const kind = kinds[Math.floor(rnd() * kinds.length)]!
      const range =
        kind === 'meta'
          ? { gte: metaKey(name), lt: `${metaKey(name)}\u0000` }
          : kind === 'snapshot'
            ? { gte: snapshotKey(name), lt: `${snapshotKey(name)}\u0000` }
            : docRange(name)
      // Log records sort before the snapshot, so index 0 of the doc range is a log record.
      expect(await damage(db, range, 0)).toBe(1)
      damaged.set(name, kind)
    }
    if (damaged.size === 0) {
      expect(await damage(db, docRange(names[1]!), 0)).toBe(1)
      damaged.set(names[1]!, 'log')
    }
    await db.close()

    store = await DocStore.open(db)
    for (const name of names) {
      const outcome = await store.getUpdate(name).then(
        (u) => (u === null ? 'missing' : 'ok'),
        (err: unknown) =>
          isRhizomeError(err, ErrorCode.STORE_CORRUPT) && err.doc === name ? 'corrupt' : String(err),
      )
      expect(outcome, `${name} (${damaged.get(name) ?? 'intact'})`).toBe(damaged.has(name) ? 'corrupt' : 'ok')
      if (!damaged.has(name)) expect(await store.getDigest(name)).toBe(digestOfDoc(peers.get(name)!))
    }
    const expected = [...damaged.keys()].sort()
    expect(await collect(store.corruptDocs())).toEqual(expected)
    const catalog = await collect(store.catalog())
    expect(catalog.filter((e) => e.corrupt).map((e) => e.name)).toEqual(expected)
    expect(catalog.every((e) => e.corrupt === (e.digest === null))).toBe(true)

    // Markers survive a restart; repairs clear them.
    await store.close()
    store = await DocStore.open(db)
    expect(await collect(store.corruptDocs())).toEqual(expected)
    for (const name of expected) await store.repair(name, Y.encodeStateAsUpdate(peers.get(name)!))
    expect(await collect(store.corruptDocs())).toEqual([])
    for (const name of names) expect(await store.getDigest(name)).toBe(digestOfDoc(peers.get(name)!))
    await store.close()
    store = await DocStore.open(db)
    for (const entry of await collect(store.catalog())) {
      expect(entry.corrupt).toBe(false)
      expect(entry.digest).toBe(digestOfDoc(peers.get(entry.name)!))
    }
    expect(store.docCount).toBe(names.length)
    await store.close()
  })
})
