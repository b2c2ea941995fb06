import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { openReplica, type Replica } from '../../test/support/replica.js'
import { SessionClient } from '../../test/support/sessionClient.js'
import { catalogDigests, killAdminRuns, runAdmin, signToken, writeText } from './adminSupport.js'
import { httpRequest } from './support/httpRequest.js'
import { stockProvider, whenClosed, whenSynced } from './support/providers.js'

/** Teardown registered where each resource is created. */
const teardown: Array<() => Promise<unknown>> = []
afterEach(async () => {
  killAdminRuns()
  for (const task of teardown.splice(0).reverse()) await task().catch(() => {})
})
afterAll(stopAllRelays)

async function tombstones(relay: RelayProcess): Promise<{ name: string; deleted: boolean; at: number }[]> {
  const res = await httpRequest(relay.port, 'GET', '/docs?deleted=1')
  expect(res.status).toBe(200)
  return (res.json() as { docs: { name: string; deleted: boolean; at: number }[] }).docs
}

async function textOn(relay: RelayProcess, name: string): Promise<string | null> {
  const res = await httpRequest(relay.port, 'GET', `/docs/${name}`)
  if (res.status === 404) return null
  expect(res.status).toBe(200)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, res.body)
  return doc.getText('text').toString()
}

/** Every file under `dir` that contains `needle` (raw bytes: LevelDB .ldb and .log files included). */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = []
  const bytes = Buffer.from(needle)
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const data = await readFile(path).catch(() => null)
    if (data?.includes(bytes)) hits.push(path)
  }
  return hits
}

async function replicaOn(relays: string[], storage: string): Promise<Replica> {
  const replica = await openReplica({ relays, storage, backoff: { initialMs: 50, maxMs: 400 } })
  teardown.push(() => replica.close())
  return replica
}

describe('deletion with tombstones (docs/PROTOCOL.md section 9)', () => {
  it('deletes on every relay, refuses the document everywhere, survives a wipe, and undeletes with every edit', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    await writeText(a.url, 'notes/doomed', 'before the delete')
    await writeText(a.url, 'notes/kept', 'stays')
    await eventually(async () => (await textOn(b, 'notes/doomed')) === 'before the delete', {
      what: 'b to hold the document',
    })
    // A stock y-websocket client holding it on b is closed with 4410 by the delete.
    const holder = stockProvider(b.url, 'notes/doomed')
    await whenSynced(holder)
    const closedHolder = whenClosed(holder)

    const run = await runAdmin(['delete', a.url, 'notes/doomed'])
    expect(run.code, run.stderr.toString()).toBe(0)
    expect(run.stdout.toString()).toMatch(/^deleted notes\/doomed at \d{4}-\d\d-\d\dT/)
    expect((await closedHolder).code).toBe(4410)

    const [record] = await tombstones(a)
    expect(record).toEqual({ name: 'notes/doomed', deleted: true, at: expect.any(Number) })
    await eventually(async () => JSON.stringify(await tombstones(b)) === JSON.stringify([record]), {
      what: 'the tombstone to replicate to b',
    })
    for (const relay of [a, b]) {
      expect([...(await catalogDigests(relay.httpUrl)).keys()]).toEqual(['notes/kept'])
      expect(await textOn(relay, 'notes/doomed')).toBeNull()
      const post = await httpRequest(relay.port, 'POST', '/docs/notes/doomed', {
        body: new Uint8Array([0, 0]),
      })
      expect(post.status).toBe(410)
      expect(post.json().error).toBe('DOC_DELETED')
    }
    // A new stock socket: the upgrade completes and closes with 4410, no byte of the document sent.
    const late = stockProvider(a.url, 'notes/doomed')
    expect((await whenClosed(late)).code).toBe(4410)
    expect(late.doc.getText('text').toString()).toBe('')

    // Wipe b and restart it: it refills from a but keeps the document deleted.
    await b.stop()
    await rm(b.dataDir, { recursive: true, force: true })
    await b.start()
    await eventually(async () => (await textOn(b, 'notes/kept')) === 'stays', { what: 'b to refill' })
    expect(await tombstones(b)).toEqual([record])
    expect([...(await catalogDigests(b.httpUrl)).keys()]).toEqual(['notes/kept'])
    expect(await textOn(b, 'notes/doomed')).toBeNull()
    const verify = await runAdmin(['verify', a.url, b.url])
    expect(verify.stdout.toString()).toContain('2 documents, 2 converged, 0 diverged')
    expect(verify.code).toBe(0)

    // Undelete on b (which holds no byte of it): both relays serve every edit accepted before.
    const undo = await runAdmin(['undelete', b.url, 'notes/doomed'])
    expect(undo.code, undo.stderr.toString()).toBe(0)
    for (const relay of [a, b]) {
      await eventually(async () => (await textOn(relay, 'notes/doomed')) === 'before the delete', {
        what: `the undeleted document on ${relay.url}`,
      })
      expect(await tombstones(relay)).toEqual([])
    }
    expect((await runAdmin(['undelete', a.url, 'notes/doomed'])).code).toBe(2)
  })

  it('needs an admin token to delete or undelete; a granted socket on a deleted document gets 4410', async () => {
    const secret = 'tombstone-test-secret-0123456789'
    const relay = await startRelay({ args: ['--auth-secret', secret] })
    const admin = signToken(secret, { docs: ['**'], access: 'admin' })
    const writer = signToken(secret, { docs: ['**'], access: 'write' })
    await writeText(relay.url, 'auth/doc', 'secret text', writer)
    const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } })
    expect((await httpRequest(relay.port, 'DELETE', '/docs/auth/doc')).status).toBe(401)
    expect((await httpRequest(relay.port, 'DELETE', '/docs/auth/doc', bearer(writer))).status).toBe(403)
    expect((await runAdmin(['delete', relay.url, 'auth/doc'])).code).toBe(2)
    expect((await runAdmin(['delete', relay.url, 'auth/doc', '--token', admin])).code).toBe(0)
    // Not granted: 4403 as before, nothing tells whether it exists; granted: 4410.
    const stranger = stockProvider(relay.url, 'auth/doc', new Y.Doc(), {
      token: signToken(secret, { docs: ['other/*'], access: 'write' }),
    })
    expect((await whenClosed(stranger)).code).toBe(4403)
    const granted = stockProvider(relay.url, 'auth/doc', new Y.Doc(), { token: writer })
    expect((await whenClosed(granted)).code).toBe(4410)
    expect((await httpRequest(relay.port, 'POST', '/docs/auth/doc?undelete=1', bearer(writer))).status).toBe(
      403,
    )
    const undo = await httpRequest(relay.port, 'POST', '/docs/auth/doc?undelete=1', bearer(admin))
    expect(undo.status).toBe(200)
    expect(undo.json()).toEqual({ doc: 'auth/doc', deleted: false, at: expect.any(Number) })
    const read = await httpRequest(relay.port, 'GET', '/docs/auth/doc', bearer(writer))
    expect(read.status).toBe(200)
  })

  it('verify reports a document deleted on one relay and live on another', async () => {
    const a = await startRelay()
    const isolated = await startRelay()
    await writeText(a.url, 'v/doc', 'x')
    await writeText(isolated.url, 'v/doc', 'x')
    expect((await runAdmin(['delete', a.url, 'v/doc'])).code).toBe(0)
    const run = await runAdmin(['verify', a.url, isolated.url])
    expect(run.code).toBe(1)
    expect(run.stdout.toString()).toMatch(/diverged v\/doc {2}.*=deleted@\d+/)
  })

  it('refuses a device that edited the document offline, and tells it the document is deleted', async () => {
    // Info logs: the refusal of the reconnected device is observed in them.
    const relay = await startRelay({ args: ['--log-level', 'info'] })
    const storage = join(relay.dataDir, '..', `device-${Date.now()}`)
    teardown.push(() => rm(storage, { recursive: true, force: true }))
    const online = await replicaOn([relay.url], storage)
    const handle = await online.open('dev/notes')
    handle.doc.getText('text').insert(0, 'synced edit')
    await handle.whenDurable(1, { timeout: 10_000 })
    await online.close()

    const offline = await replicaOn([], storage)
    ;(await offline.open('dev/notes')).doc.getText('text').insert(0, 'OFFLINE-EDIT ')
    await offline.close()

    expect((await runAdmin(['delete', relay.url, 'dev/notes'])).code).toBe(0)
    const back = await replicaOn([relay.url], storage)
    await back.open('dev/notes')
    // The reconnected device pushes its offline edit; the relay refuses it with 4410.
    const refusals = () => relay.log.join('').split('refused a session document').length - 1
    await eventually(() => refusals() >= 1, { what: 'the relay to refuse the device' })
    // The relay refuses the offline edit: the document stays deleted and holds nothing new.
    const session = await SessionClient.connect(relay.url, { patterns: ['dev/**'] })
    teardown.push(async () => session.client.ws.close())
    const listing = await session.client.round(1)
    expect(listing).toEqual([{ doc: 'dev/notes', digest: '', deletedAt: expect.any(Number) }])
    const pusher = new Y.Doc()
    pusher.getText('text').insert(0, 'pushed')
    session.client.push('dev/notes', pusher)
    const deleted = await session.client.waitFor('deleted', (m) => m.doc === 'dev/notes')
    expect(deleted.at).toBe(listing[0]!.deletedAt)
    expect((await session.client.waitFor('refused', (m) => m.doc === 'dev/notes')).code).toBe(4410)
    expect(await textOn(relay, 'dev/notes')).toBeNull()
    expect((await tombstones(relay)).map((t) => t.name)).toEqual(['dev/notes'])
    expect(await filesContaining(relay.dataDir, 'OFFLINE-EDIT')).toEqual([])
  })

  it('tells a connected device session the moment a document it replicates is deleted', async () => {
    const relay = await startRelay()
    await writeText(relay.url, 'live/doc', 'x')
    const { client } = await SessionClient.connect(relay.url, { patterns: ['live/**'] })
    teardown.push(async () => client.ws.close())
    expect((await client.round(1)).map((e) => e.doc)).toEqual(['live/doc'])
    const res = await httpRequest(relay.port, 'DELETE', '/docs/live/doc')
    expect(res.status).toBe(200)
    const deleted = await client.waitFor('deleted', (m) => m.doc === 'live/doc')
    expect(deleted.at).toBe(res.json().at)
  })

  it('purges the bytes from every relay once --history-ms has passed, keeping the tombstone', async () => {
    const args = ['--history-ms', '3000']
    const a = await startRelay({ args })
    const b = await startRelay({ args, peers: [a.url] })
    const marker = `PURGE-MARKER-${Math.random().toString(36).slice(2)}`
    await writeText(a.url, 'p/secret', marker)
    await writeText(a.url, 'p/other', 'unrelated')
    await eventually(async () => (await textOn(b, 'p/secret')) === marker, { what: 'b to hold the marker' })
    for (const relay of [a, b]) expect(await filesContaining(relay.dataDir, marker)).not.toEqual([])
    expect((await runAdmin(['delete', a.url, 'p/secret'])).code).toBe(0)
    for (const relay of [a, b]) {
      await eventually(async () => (await filesContaining(relay.dataDir, marker)).length === 0, {
        what: `the marker to leave every file of ${relay.dataDir}`,
        timeout: 30_000,
        interval: 250,
      })
      expect((await tombstones(relay)).map((t) => t.name)).toEqual(['p/secret'])
      expect(await textOn(relay, 'p/other')).toBe('unrelated')
    }
    // Too late to undelete: the bytes are gone.
    expect((await runAdmin(['undelete', a.url, 'p/secret'])).code).toBe(2)
  })
})
