import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, isRhizomeError, RhizomeError } from '@rhizome/protocol'
import { MemoryLevel } from 'memory-level'
import { afterEach, describe, expect, it } from 'vitest'
import { openReplica, type Replica } from '../src/index.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-client-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function replicaAt(storage: string): Promise<Replica> {
  const replica = await openReplica({ relays: [], storage })
  cleanups.push(() => replica.close())
  return replica
}

describe('local replica without relays', () => {
  it('an edit is in the local store when whenDurable(0) resolves; reopening the storage returns it', async () => {
    const dir = await tempDir()
    const first = await replicaAt(dir)
    const handle = await first.open('notes/today')
    handle.doc.getText('t').insert(0, 'written offline')
    handle.doc.getMap('m').set('k', 42)
    await handle.whenDurable(0)
    // The store alone (not the in-memory doc) must have it: read it back through the store API.
    const stored = await first.store.getUpdate('notes/today')
    expect(stored).not.toBeNull()
    await first.close()

    const second = await replicaAt(dir)
    const again = await second.open('notes/today')
    expect(again.doc.getText('t').toString()).toBe('written offline')
    expect(again.doc.getMap('m').get('k')).toBe(42)
  })

  it('close() persists edits that nobody awaited', async () => {
    const dir = await tempDir()
    const first = await replicaAt(dir)
    const handle = await first.open('a')
    for (let i = 0; i < 200; i++) handle.doc.getArray<number>('xs').push([i])
    await first.close()
    const second = await replicaAt(dir)
    expect((await second.open('a')).doc.getArray('xs').length).toBe(200)
  })

  it('many documents per replica stay separate; open() of an open name returns the same handle', async () => {
    const dir = await tempDir()
    const replica = await replicaAt(dir)
    const [a, b] = await Promise.all([replica.open('doc-a'), replica.open('team/doc-b')])
    expect(await replica.open('doc-a')).toBe(a)
    a.doc.getText('t').insert(0, 'A')
    b.doc.getText('t').insert(0, 'B')
    await Promise.all([a.whenDurable(0), b.whenDurable(0)])
    expect(replica.openDocuments.sort()).toEqual(['doc-a', 'team/doc-b'])
    await a.close()
    expect(replica.openDocuments).toEqual(['team/doc-b'])
    await replica.close()
    const again = await replicaAt(dir)
    expect((await again.open('doc-a')).doc.getText('t').toString()).toBe('A')
    expect((await again.open('team/doc-b')).doc.getText('t').toString()).toBe('B')
  })

  it('whenDurable(k >= 1) rejects with TIMEOUT when no relay holds the state', async () => {
    const replica = await replicaAt(await tempDir())
    const handle = await replica.open('x')
    handle.doc.getText('t').insert(0, 'x')
    const err = await handle.whenDurable(1, { timeout: 100 }).catch((e: unknown) => e)
    expect(isRhizomeError(err, ErrorCode.TIMEOUT)).toBe(true)
    expect(handle.copies).toBe(0)
    expect(handle.status).toEqual({ relays: [], copies: 0 })
  })

  it('whenSynced rejects when there is no relay; pending waits reject when the handle closes', async () => {
    const replica = await replicaAt(await tempDir())
    const handle = await replica.open('x')
    await expect(handle.whenSynced()).rejects.toThrow(RhizomeError)
    const pending = handle.whenDurable(1)
    await handle.close()
    const err = await pending.catch((e: unknown) => e)
    expect(isRhizomeError(err, ErrorCode.STORE_CLOSED)).toBe(true)
  })

  it('rejects invalid document names and bad options', async () => {
    const replica = await replicaAt(await tempDir())
    const err = await replica.open('../etc').catch((e: unknown) => e)
    expect(isRhizomeError(err, ErrorCode.DOC_NAME_INVALID)).toBe(true)
    await expect(openReplica({ relays: ['http://x'], storage: 'y' })).rejects.toThrow(TypeError)
  })

  it('accepts any abstract-level database as storage', async () => {
    const db = new MemoryLevel()
    const first = await openReplica({ relays: [], storage: db })
    const handle = await first.open('m')
    handle.doc.getText('t').insert(0, 'in memory')
    await handle.whenDurable(0)
    expect(await first.store.getUpdate('m')).not.toBeNull()
    await first.close()
    expect(db.status).toBe('closed')
    const second = await openReplica({ relays: [], storage: db })
    cleanups.push(() => second.close())
    expect((await second.open('m')).doc.getText('t').toString()).toBe('in memory')
  })

  it('a burst of edits, each awaiting durability, resolves in order; a timed-out wait blocks nobody', async () => {
    const replica = await replicaAt(await tempDir())
    const handle = await replica.open('burst')
    const order: number[] = []
    const waits: Promise<void>[] = []
    for (let i = 0; i < 500; i++) {
      handle.doc.getText('t').insert(0, 'x')
      waits.push(handle.whenDurable(0).then(() => void order.push(i)))
      if (i === 100) waits.push(expect(handle.whenDurable(1, { timeout: 1 })).rejects.toThrow(/timed out/))
    }
    await Promise.all(waits)
    expect(order).toEqual([...order].sort((a, b) => a - b))
    expect(order.length).toBe(500)
  })

  it('a failed local write rejects whenDurable and emits an error event', async () => {
    const replica = await replicaAt(await tempDir())
    const handle = await replica.open('fails')
    const errors: unknown[] = []
    handle.on('error', (e) => errors.push(e))
    await replica.store.close() // the disk goes away under the handle
    handle.doc.getText('t').insert(0, 'lost')
    const err = await handle.whenDurable(0).catch((e: unknown) => e)
    expect(isRhizomeError(err, ErrorCode.STORE_CLOSED)).toBe(true)
    expect(errors).toHaveLength(1)
  })

  it('many documents times relays add no process listeners (no MaxListenersExceededWarning)', async () => {
    const before = process.listenerCount('exit')
    const replica = await openReplica({
      relays: ['ws://127.0.0.1:1', 'ws://127.0.0.1:2'], // nothing listens: providers exist, sockets fail
      storage: await tempDir(),
      backoff: { initialMs: 50, maxMs: 200 },
    })
    cleanups.push(() => replica.close())
    const handles = await Promise.all(Array.from({ length: 12 }, (_, i) => replica.open(`many/${i}`)))
    expect(handles.every((h) => h.status.relays.length === 2)).toBe(true)
    expect(process.listenerCount('exit')).toBe(before)
  })
})
