import * as protocol from '@rhizome/protocol'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { WebSocket as NodeWebSocket } from 'ws'
import { eventually } from '../../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import * as client from '../src/index.js'
import { ErrorCode, isRhizomeError, RhizomeError } from '../src/index.js'
import { countingWebSocket } from './sessionSupport.js'
import { Cleanup, device, tempDir } from './support.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => stopAllRelays())

const text = (h: client.DocHandle) => h.doc.getText('t').toString()

describe('what a y-websocket or Hocuspocus user expects', () => {
  it('handle.synced turns true with a synced event, false while the relay is gone, and the event fires again after the resync', async () => {
    const relay = await startRelay()
    const replica = await device(cleanup, [relay.url])
    const handle = await replica.open('ergo/synced')
    let events = 0
    handle.on('synced', () => events++)
    expect(handle.synced).toBe(false)
    await handle.whenSynced({ timeout: 10_000 })
    expect(handle.synced).toBe(true)
    await eventually(() => events === 1, { what: 'first synced event' })

    await replica.disconnect()
    expect(handle.synced).toBe(false)
    replica.connect()
    await eventually(() => handle.synced, { timeout: 10_000, what: 'synced again after connect' })
    await eventually(() => events === 2, { what: 'second synced event' })
  })

  it('disconnect() closes every relay session but not the replica: edits go on into the store, connect() pushes them', async () => {
    const relay = await startRelay()
    const { WebSocket, opens } = countingWebSocket(NodeWebSocket as unknown as client.WebSocketClass)
    const replica = await client.openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      WebSocket,
      backoff: { initialMs: 20, maxMs: 50 },
    })
    cleanup.add(() => replica.close())
    const handle = await replica.open('ergo/offline')
    await handle.whenSynced({ timeout: 10_000 })
    const sessionUrl = `${relay.url}/_session`
    expect(opens.get(sessionUrl)).toBe(1)

    await replica.disconnect()
    expect(replica.status.relays.map((r) => [r.state, r.disconnected])).toEqual([['offline', true]])
    expect(handle.status.relays.map((r) => [r.state, r.disconnected])).toEqual([['offline', true]])
    handle.doc.getText('t').insert(0, 'written while disconnected')
    await handle.whenDurable(0, { timeout: 5000 })
    // No reconnect happens by itself, even with a backoff of a few ms (an absence: it takes a wait).
    await new Promise((r) => setTimeout(r, 300))
    expect(opens.get(sessionUrl)).toBe(1)
    expect(replica.status.relays[0]!.disconnected).toBe(true)

    replica.connect()
    await handle.whenDurable(1, { timeout: 10_000 })
    expect(opens.get(sessionUrl)).toBe(2)
    expect(replica.status.relays[0]!.disconnected).toBeUndefined()
    // Another device reads it from the relay: the edit made while disconnected was pushed.
    const other = await (await device(cleanup, [relay.url])).open('ergo/offline')
    await other.whenSynced({ timeout: 10_000 })
    await eventually(() => text(other) === 'written while disconnected', { what: 'edit on the relay' })
  })

  it('on() returns an unsubscribe function and off() removes a listener, on Replica and DocHandle', async () => {
    const relay = await startRelay()
    const replica = await device(cleanup, [relay.url])
    const handle = await replica.open('ergo/listeners')
    await handle.whenSynced({ timeout: 10_000 })

    const byUnsubscribe: unknown[] = []
    const byOff: unknown[] = []
    const kept: unknown[] = []
    const unsubscribe = handle.on('status', (s) => byUnsubscribe.push(s))
    const offListener = (s: client.DocStatus) => byOff.push(s)
    handle.on('status', offListener)
    handle.on('status', (s) => kept.push(s))
    expect(typeof unsubscribe).toBe('function')
    unsubscribe()
    unsubscribe() // idempotent
    handle.off('status', offListener)

    const replicaEvents: unknown[] = []
    const replicaKept: unknown[] = []
    replica.on('status', (s) => replicaEvents.push(s))()
    replica.on('status', (s) => replicaKept.push(s))

    await replica.disconnect()
    replica.connect()
    await handle.whenSynced({ timeout: 10_000 })
    await eventually(() => kept.length > 0 && replicaKept.length > 0, { what: 'kept listeners called' })
    expect(byUnsubscribe).toEqual([])
    expect(byOff).toEqual([])
    expect(replicaEvents).toEqual([])
  })

  it('exports RhizomeError, ErrorCode and isRhizomeError (the same as @rhizome/protocol) with stable codes', async () => {
    expect(RhizomeError).toBe(protocol.RhizomeError)
    expect(ErrorCode).toBe(protocol.ErrorCode)
    expect(isRhizomeError).toBe(protocol.isRhizomeError)
    // The codes the client documents in its README.
    for (const code of [
      'TIMEOUT',
      'STORE_CLOSED',
      'DOC_NAME_INVALID',
      'AUTH_INVALID',
      'AUTH_FORBIDDEN',
      'PROTOCOL_MALFORMED',
      'PROTOCOL_TOO_LARGE',
      'RATE_LIMITED',
      'RELAY_UNAVAILABLE',
    ]) {
      expect(ErrorCode[code as keyof typeof ErrorCode]).toBe(code)
    }
    const replica = await device(cleanup, [])
    const err = await replica.open('/bad').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RhizomeError)
    expect(isRhizomeError(err, ErrorCode.DOC_NAME_INVALID)).toBe(true)
    const handle = await replica.open('ergo/errors')
    const timeout = await handle.whenDurable(1, { timeout: 50 }).catch((e: unknown) => e)
    expect(isRhizomeError(timeout, ErrorCode.TIMEOUT)).toBe(true)
    await replica.close()
    expect(() => replica.connect()).toThrow(RhizomeError)
    await expect(replica.disconnect()).rejects.toMatchObject({ code: ErrorCode.STORE_CLOSED })
  })
})
