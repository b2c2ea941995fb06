import { decodeSessionMessage, encodeSessionMessage, type SessionMessage } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { type WebSocket, WebSocketServer } from 'ws'
import { eventually } from '../../../test/support/poll.mjs'
import { type DocStatus, openReplica } from '../src/index.js'
import { docUpdate, storedText } from './sessionSupport.js'
import { Cleanup, tempDir } from './support.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/**
 * A stand-in relay speaking the session protocol (docs/PROTOCOL.md section 7.2) as a relay with
 * deletion will (section 9): it welcomes every session (never resumed), sends the round-1 listing
 * `listing`, answers step1s with an empty step2, and lets the test send anything else (`deleted`,
 * live updates). Records every frame the device sent.
 */
async function standInRelay(listing: Extract<SessionMessage, { type: 'changes' }>['entries']): Promise<{
  url: string
  received: SessionMessage[]
  send(m: SessionMessage): void
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const received: SessionMessage[] = []
  let current: WebSocket | null = null
  const send = (m: SessionMessage) => current?.send(encodeSessionMessage(m))
  wss.on('connection', (ws) => {
    current = ws
    ws.on('message', (data: Buffer) => {
      const m = decodeSessionMessage(new Uint8Array(data))
      received.push(m)
      if (m.type === 'hello') {
        send({ type: 'welcome', version: 1, relayId: 'stand-in', storeId: 'store-1', seq: 1, resumed: false })
        send({ type: 'changes', round: 1, entries: listing, last: true, seq: 1 })
      } else if (m.type === 'sync' && m.step === 'step1') {
        send({ type: 'sync', doc: m.doc, step: 'step2', payload: new Uint8Array([0, 0]) })
      }
    })
  })
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close(() => resolve())
      }),
  )
  const { port } = wss.address() as { port: number }
  return { url: `ws://127.0.0.1:${port}`, received, send }
}

/** Sync frames of `doc` the device sent that carry content (step2/update other than the empty `[0, 0]`). */
function pushesOf(received: SessionMessage[], doc: string): number {
  return received.filter(
    (m) => m.type === 'sync' && m.doc === doc && m.step !== 'step1' && m.payload.length > 2,
  ).length
}

describe('documents deleted on the relays', () => {
  it('leave the local store and names(), are never pushed again, and an open handle reports deleted: true', async () => {
    const storage = await tempDir(cleanup)
    const seeding = await openReplica({ relays: [], storage })
    for (const name of ['notes/a', 'notes/b', 'notes/c'])
      await seeding.store.append(name, docUpdate(`text of ${name}`))
    await seeding.close()

    // The relay lists notes/a as a tombstone (deleted at 1000) and holds nothing else.
    const relay = await standInRelay([{ doc: 'notes/a', digest: '', deletedAt: 1000 }])
    const replica = await openReplica({ relays: [relay.url], storage, replicate: ['notes/**'] })
    cleanup.add(() => replica.close())
    const handle = await replica.open('notes/b')
    const statuses: DocStatus[] = []
    handle.on('status', (s) => statuses.push(s))

    await eventually(() => pushesOf(relay.received, 'notes/c') > 0, { what: 'notes/c pushed to the relay' })
    await eventually(async () => !(await replica.store.has('notes/a')), { what: 'notes/a purged locally' })
    expect(await replica.names('notes/')).toEqual(['notes/b', 'notes/c'])
    expect(pushesOf(relay.received, 'notes/a')).toBe(0)
    expect(handle.status.deleted).toBeUndefined()

    // Now the relay deletes the open document.
    relay.send({ type: 'deleted', doc: 'notes/b', at: 2000 })
    await eventually(() => statuses.some((s) => s.deleted === true), { what: 'status with deleted: true' })
    expect(handle.status.deleted).toBe(true)
    expect(handle.synced).toBe(false)
    await eventually(async () => !(await replica.store.has('notes/b')), { what: 'notes/b purged locally' })
    expect(await replica.names('notes/')).toEqual(['notes/c'])
    await expect(handle.whenSynced()).rejects.toMatchObject({ code: 'STORE_CLOSED' })

    // Edits on the deleted document and late updates from a relay are neither stored nor pushed.
    const pushedBefore = pushesOf(relay.received, 'notes/b')
    handle.doc.getText('t').insert(0, 'after the delete ')
    relay.send({ type: 'sync', doc: 'notes/a', step: 'update', payload: docUpdate('late copy') })
    // A round trip on the same socket: everything sent before it has been handled by the device.
    relay.send({ type: 'sync', doc: 'notes/c', step: 'update', payload: docUpdate('marker') })
    await eventually(async () => (await storedText(replica, 'notes/c'))?.includes('marker') === true, {
      what: 'marker update stored',
    })
    expect(await replica.store.has('notes/a')).toBe(false)
    expect(await replica.store.has('notes/b')).toBe(false)
    expect(pushesOf(relay.received, 'notes/b')).toBe(pushedBefore)
    await replica.close()

    // The tombstones survive a restart: the same listing without them does not bring them back.
    const relay2 = await standInRelay([
      { doc: 'notes/a', digest: 'ff' },
      { doc: 'notes/c', digest: 'ff' },
    ])
    const again = await openReplica({ relays: [relay2.url], storage, replicate: ['notes/**'] })
    cleanup.add(() => again.close())
    expect(await again.names('notes/')).toEqual(['notes/c'])
    await again.whenReplicated({ timeout: 10_000 })
    relay2.send({ type: 'sync', doc: 'notes/b', step: 'update', payload: docUpdate('resurrected?') })
    relay2.send({ type: 'sync', doc: 'notes/c', step: 'update', payload: docUpdate('marker 2') })
    await eventually(async () => (await storedText(again, 'notes/c'))?.includes('marker 2') === true, {
      what: 'second marker stored',
    })
    expect(await again.store.has('notes/b')).toBe(false)
    expect(await again.names('notes/')).toEqual(['notes/c'])
    expect(relay2.received.some((m) => m.type === 'sync' && m.doc !== 'notes/c')).toBe(false)
    const reopened = await again.open('notes/b')
    expect(reopened.status.deleted).toBe(true)
  })
})
