import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { afterEach, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import type { RawOperation } from '../src/groupCommit/StagedBatch.js'
import { writeSyncBatch } from '../src/groupCommit/syncBatch.js'
import { DocStore } from '../src/index.js'
import type { AnyLevel } from '../src/records.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function classic(): Promise<ClassicLevel<string, Uint8Array>> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-syncbatch-'))
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  cleanups.push(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })
  return db
}

const ops = (): RawOperation[] => [
  { type: 'put', key: 'a', value: new Uint8Array([1, 2]), keyEncoding: 'utf8', valueEncoding: 'view' },
  { type: 'put', key: 'b', value: new Uint8Array([3]), keyEncoding: 'utf8', valueEncoding: 'view' },
  { type: 'del', key: 'a', keyEncoding: 'utf8' },
]

async function contents(db: AnyLevel): Promise<[string, number[]][]> {
  const out: [string, number[]][] = []
  for await (const [k, v] of db.iterator({ keyEncoding: 'utf8', valueEncoding: 'view' }))
    out.push([k as string, [...(v as Uint8Array)]])
  return out
}

// The public batch() cloned and re-encoded every op of every group commit: more main-thread time
// than the fsync. A plain classic-level database gets the ops straight through its `_batch`.
it('writes a plain classic-level batch without abstract-level cloning each op, with the same result', async () => {
  const db = await classic()
  const publicBatch = vi.spyOn(db, 'batch')
  const native = vi.spyOn(db as unknown as { _batch: () => Promise<void> }, '_batch')
  await writeSyncBatch(db, ops())
  expect(publicBatch).not.toHaveBeenCalled()
  expect(native).toHaveBeenCalledOnce()
  expect(native.mock.calls[0]).toMatchObject([expect.any(Array), { sync: true }])
  expect(await contents(db)).toEqual([['b', [3]]])
})

it('group commits of a store on classic-level bypass batch(), and what they wrote reads back', async () => {
  const db = await classic()
  const store = await DocStore.open(db)
  const publicBatch = vi.spyOn(db, 'batch')
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < 5; i++) doc.getText('t').insert(i, 'x')
  await Promise.all(updates.map((u) => store.append('d', u)))
  expect(publicBatch).not.toHaveBeenCalled()
  const read = new Y.Doc()
  await store.loadInto('d', read)
  expect(read.getText('t').toString()).toBe('xxxxx')
  await store.close()
})

it('goes through batch() when it would do more than pass the ops on', async () => {
  const hooked = await classic()
  const seen: string[] = []
  hooked.hooks.prewrite.add((op) => seen.push(op.key as string))
  const listened = await classic()
  const written: unknown[] = []
  listened.on('write', (w) => written.push(w))
  const memory = new MemoryLevel<string, Uint8Array>()
  const sub = (await classic()).sublevel<string, Uint8Array>('s', { valueEncoding: 'view' })
  for (const db of [hooked, listened, memory, sub] as AnyLevel[]) {
    const publicBatch = vi.spyOn(db, 'batch')
    await writeSyncBatch(db, ops())
    expect(publicBatch).toHaveBeenCalledOnce()
    expect(await contents(db)).toEqual([['b', [3]]])
  }
  expect(seen).toEqual(['a', 'b', 'a'])
  expect(written).toHaveLength(1)
})

it('rejects on a closed database and writes nothing', async () => {
  const db = await classic()
  await db.close()
  await expect(writeSyncBatch(db, ops())).rejects.toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' })
  await db.open()
  expect(await contents(db)).toEqual([])
})
