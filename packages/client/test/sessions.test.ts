import { mkdir, rm } from 'node:fs/promises'
import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { WebSocket as NodeWebSocket } from 'ws'
import { signToken } from '../../../server/test/support/tokens.js'
import { eventually } from '../../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { CheckpointStore } from '../src/CheckpointStore.js'
import { openReplica, type ReplicaStatus, type WebSocketClass } from '../src/index.js'
import { countingWebSocket, relayDocCount, seedDocs, storedText } from './sessionSupport.js'
import { Cleanup, device, tempDir } from './support.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => stopAllRelays())

const SECRET = 'session-client-test-secret-0123456789'
const text = (h: { doc: { getText(name: string): { toString(): string } } }) => h.doc.getText('t').toString()

describe('device sessions', () => {
  it('a document created on another device arrives in the local store (docs event) without being opened', async () => {
    const relay = await startRelay()
    const storage = await tempDir(cleanup)
    const replica = await openReplica({ relays: [relay.url], storage, replicate: ['shared/**'] })
    cleanup.add(() => replica.close())
    const arrived: string[][] = []
    replica.on('docs', (names) => arrived.push(names))
    await replica.whenReplicated({ timeout: 15_000 })

    const other = await (await device(cleanup, [relay.url])).open('shared/new')
    other.doc.getText('t').insert(0, 'made elsewhere')
    await eventually(() => arrived.flat().includes('shared/new'), { what: 'docs event' })
    expect(await storedText(replica, 'shared/new')).toBe('made elsewhere')
    expect(replica.openDocuments).toEqual([])
    // A later edit is kept current in the store too, still without opening it.
    other.doc.getText('t').insert(0, 'still ')
    await eventually(async () => (await storedText(replica, 'shared/new')) === 'still made elsewhere', {
      what: 'live update into the store',
    })
    expect(await replica.names()).toEqual(['shared/new'])
    // Opening it is a local load: the content is there at once.
    const handle = await replica.open('shared/new')
    expect(text(handle)).toBe('still made elsewhere')
  })

  it('replicate(pattern) adds a namespace at runtime, and a restart with more patterns gets them too', async () => {
    const relay = await startRelay()
    const source = await tempDir(cleanup)
    const seeding = await openReplica({ relays: [], storage: source })
    const as = await seedDocs(seeding, 'a/', 5)
    const bs = await seedDocs(seeding, 'b/', 7)
    const cs = await seedDocs(seeding, 'c/x/', 3)
    await seeding.close()
    const pusher = await openReplica({
      relays: [relay.url],
      storage: source,
      replicate: ['a/**', 'b/**', 'c/**'],
    })
    cleanup.add(() => pusher.close())
    await eventually(async () => (await relayDocCount(relay.httpUrl)) === 15, { what: '15 documents pushed' })

    const storage = await tempDir(cleanup)
    let replica = await openReplica({ relays: [relay.url], storage, replicate: ['a/**'] })
    await replica.whenReplicated({ timeout: 15_000 })
    expect(await replica.names()).toEqual(as)
    await replica.replicate('b/*')
    await replica.replicate('b/*') // already replicated: nothing more
    expect(replica.patterns).toEqual(['a/**', 'b/*'])
    await replica.whenReplicated({ timeout: 15_000 })
    expect(await replica.names()).toEqual([...as, ...bs])
    await expect(replica.replicate('/bad')).rejects.toThrow(TypeError)
    await replica.close()

    replica = await openReplica({ relays: [relay.url], storage, replicate: ['a/**', 'b/*', 'c/*/*'] })
    cleanup.add(() => replica.close())
    await replica.whenReplicated({ timeout: 15_000 })
    expect(await replica.names()).toEqual([...as, ...bs, ...cs])
    for (const name of cs) expect(await storedText(replica, name)).toBe(`content of ${name}`)
  })

  it('two URLs of one relay count once: the second session is a duplicate, copies stay 1', async () => {
    const relay = await startRelay()
    const replica = await device(cleanup, [relay.url, `${relay.url}/`])
    await eventually(
      () => {
        const states = replica.status.relays.map((r) => r.state).sort()
        return states[0] === 'duplicate' && states[1] === 'synced'
      },
      { what: 'one synced, one duplicate' },
    )
    expect(replica.status.relays[0]!.id).toBe(relay.id)
    expect(replica.status.relays[1]!.id).toBe(relay.id)
    const handle = await replica.open('dup/doc')
    handle.doc.getText('t').insert(0, 'x')
    await handle.whenDurable(1, { timeout: 15_000 })
    expect(handle.copies).toBe(1)
    const two = await handle.whenDurable(2, { timeout: 500 }).catch((e: unknown) => e)
    expect(isRhizomeError(two, ErrorCode.TIMEOUT)).toBe(true)
    expect(handle.status.relays.map((r) => r.state).sort()).toEqual(['duplicate', 'synced'])
  })

  it('a token function is called at every connect; a 4401 (expired) fetches a fresh one; a token refused again is final', async () => {
    const relay = await startRelay({ args: ['--auth-secret', SECRET] })
    // First an expired token, then one valid for 3 s (the relay closes the session with 4401 when
    // it expires), then valid ones.
    let calls = 0
    const token = async () => {
      calls++
      if (calls === 1) return signToken(SECRET, { docs: ['**'], access: 'write', expiresIn: -10 })
      if (calls === 2) return signToken(SECRET, { docs: ['**'], access: 'write', expiresIn: 3 })
      return signToken(SECRET, { docs: ['**'], access: 'write', expiresIn: 600 })
    }
    const replica = await openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      token,
      backoff: { initialMs: 50, maxMs: 400 },
    })
    cleanup.add(() => replica.close())
    const handle = await replica.open('tok/doc')
    await handle.whenSynced({ timeout: 15_000 })
    expect(calls).toBeGreaterThanOrEqual(2)
    await eventually(() => calls >= 3 && replica.status.relays[0]!.state === 'synced', {
      timeout: 15_000,
      what: 'reconnected with a fresh token after expiry',
    })
    handle.doc.getText('t').insert(0, 'after refresh')
    await handle.whenDurable(1, { timeout: 15_000 })

    // A function whose tokens are all refused: asked twice, then `refused`, no more retries.
    let badCalls = 0
    const refused = await openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      token: () => {
        badCalls++
        return 'not-a-jwt'
      },
      backoff: { initialMs: 20, maxMs: 50 },
    })
    cleanup.add(() => refused.close())
    const seen: ReplicaStatus[] = []
    refused.on('status', (s) => seen.push(s))
    await eventually(() => refused.status.relays[0]!.state === 'refused', { what: 'refused' })
    expect(refused.status.relays[0]!.error?.code).toBe(ErrorCode.AUTH_INVALID)
    expect(badCalls).toBe(2)
    await new Promise((r) => setTimeout(r, 300))
    expect(badCalls).toBe(2)
    await expect(refused.whenReplicated({ timeout: 1000 })).rejects.toMatchObject({
      code: ErrorCode.AUTH_INVALID,
    })
    // A static token refused once is final at once (nothing to refresh).
    const staticToken = await openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      token: 'nope',
    })
    cleanup.add(() => staticToken.close())
    await eventually(() => staticToken.status.relays[0]!.state === 'refused', {
      what: 'static token refused',
    })
  })

  it('a relay restart costs one reconnect per relay, however many documents the device carries', async () => {
    const relays = [await startRelay(), await startRelay(), await startRelay()]
    const storage = await tempDir(cleanup)
    const seeding = await openReplica({ relays: [], storage })
    await seedDocs(seeding, 'many/', 300)
    await seeding.close()
    const { WebSocket, opens } = countingWebSocket(NodeWebSocket as unknown as WebSocketClass)
    const replica = await openReplica({
      relays: relays.map((r) => r.url),
      storage,
      replicate: ['many/**'],
      WebSocket,
      backoff: { initialMs: 50, maxMs: 400 },
    })
    cleanup.add(() => replica.close())
    const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => replica.open(`many/open-${i}`)))
    await eventually(() => replica.status.relays.every((r) => r.state === 'synced'), {
      timeout: 30_000,
      what: 'all synced',
    })
    await Promise.all(handles.map((h) => h.whenSynced({ timeout: 15_000 })))
    const before = relays.map((r) => opens.get(`${r.url}/_session`) ?? 0)
    expect(before).toEqual([1, 1, 1])

    await relays[0]!.stop()
    await relays[1]!.kill()
    await eventually(() => replica.status.relays.slice(0, 2).every((r) => r.state !== 'synced'), {
      what: 'two relays down',
    })
    await relays[0]!.start()
    await relays[1]!.start()
    await eventually(() => replica.status.relays.every((r) => r.state === 'synced'), {
      timeout: 30_000,
      what: 'all synced again',
    })
    await Promise.all(handles.map((h) => h.whenSynced({ timeout: 15_000 })))
    const after = relays.map((r) => opens.get(`${r.url}/_session`) ?? 0)
    console.log(`socket opens per relay before ${before}, after restarting two: ${after}`)
    expect(after).toEqual([2, 2, 1])
  })

  it('whenDurable and copies per document with 3 relays in a mesh: copies 3', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    const c = await startRelay({ peers: [a.url, b.url] })
    const replica = await device(cleanup, [a.url, b.url, c.url])
    const handle = await replica.open('three/doc')
    handle.doc.getText('t').insert(0, 'everywhere')
    await handle.whenDurable(3, { timeout: 20_000 })
    expect(handle.copies).toBe(3)
    expect(handle.status.copies).toBe(3)
    expect(handle.status.relays.map((r) => r.state)).toEqual(['synced', 'synced', 'synced'])
    // Each relay's own count reaches 3 once its peers acknowledged it (the union above may come first).
    await eventually(() => Math.max(...handle.status.relays.map((r) => r.copies)) === 3, {
      what: 'one relay to report copies 3 itself',
    })
    // A new edit lowers copies until acknowledged again.
    handle.doc.getText('t').insert(0, 'now ')
    expect(handle.copies).toBe(0)
    await handle.whenDurable(3, { timeout: 20_000 })
    // Another device replicating the namespace has it, unopened.
    const other = await openReplica({
      relays: [c.url],
      storage: await tempDir(cleanup),
      replicate: ['three/**'],
    })
    cleanup.add(() => other.close())
    await other.whenReplicated({ timeout: 15_000 })
    expect(await storedText(other, 'three/doc')).toBe('now everywhere')
  })

  it('a relay wiped and restarted with the same --id is not resumed; the device refills it (G3)', async () => {
    const dataDir = await tempDir(cleanup, 'rhizome-wiped-')
    const relay = await startRelay({ dataDir, args: ['--id', 'wiped-relay'] })
    const storage = await tempDir(cleanup)
    const seeding = await openReplica({ relays: [], storage })
    const names = await seedDocs(seeding, 'g3/', 50)
    await seeding.close()
    let replica = await openReplica({ relays: [relay.url], storage, replicate: ['g3/**'] })
    await eventually(async () => (await relayDocCount(relay.httpUrl)) === 50, { what: '50 documents pushed' })
    await eventually(
      async () => ((await new CheckpointStore(replica.store, relay.url).load())?.seq ?? 0) >= 50,
      {
        what: 'a checkpoint',
      },
    )
    const oldStore = (await new CheckpointStore(replica.store, relay.url).load())!.storeId
    await replica.close()

    await relay.stop()
    await rm(dataDir, { recursive: true, force: true })
    await mkdir(dataDir)
    await relay.start()
    expect(relay.id).toBe('wiped-relay')
    expect(await relayDocCount(relay.httpUrl)).toBe(0)

    replica = await openReplica({ relays: [relay.url], storage, replicate: ['g3/**'] })
    cleanup.add(() => replica.close())
    await eventually(async () => (await relayDocCount(relay.httpUrl)) === 50, { what: 'the relay refilled' })
    await eventually(
      async () => {
        const cp = await new CheckpointStore(replica.store, relay.url).load()
        return cp !== null && cp.storeId !== oldStore && cp.seq !== null
      },
      { what: 'a checkpoint of the new store' },
    )
    // The refilled relay serves the content on its own.
    const fresh = await openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      replicate: ['g3/**'],
    })
    cleanup.add(() => fresh.close())
    await fresh.whenReplicated({ timeout: 15_000 })
    expect(await fresh.names()).toEqual(names)
    for (const name of names) expect(await storedText(fresh, name)).toBe(`content of ${name}`)
  })
})
