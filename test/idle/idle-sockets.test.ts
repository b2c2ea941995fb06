import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openReplica, type Replica } from '@rhizome/client'
import { afterAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { metric } from '../support/metrics.mjs'
import { eventually } from '../support/poll.mjs'
import { startRelay, stopAllRelays } from '../support/relays.js'

/** How long both kinds of socket sit idle: three times y-websocket's 30 s message timeout. */
const IDLE_MS = Number(process.env.IDLE_MS ?? 90_000)

const cleanups: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await stopAllRelays()
})

/** A `ws` WebSocket class that counts every socket it constructs: one per (re)connect. */
function countingWebSocket(): { WebSocket: typeof WebSocket; opened: () => number } {
  let count = 0
  class Counting extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      count++
    }
  }
  return { WebSocket: Counting as typeof WebSocket, opened: () => count }
}

// docs/PROTOCOL.md section 2: "An idle document costs no reconnects." A stock WebsocketProvider
// drops a socket that received nothing for 30 s, and a device session declares a relay dead after
// `deadAfterMs` (30 s) of silence; the relay's idle frames must keep both up. Both kinds idle in
// the same window, so the test costs one idle period, not two. Nothing else may talk on them: the
// provider publishes no presence (a local awareness state is renewed every 15 s and a relay echoes
// it back, which would hide a missing idle frame), and the device replicates its namespace without
// opening a document (an open one has an awareness too); they use different documents.
it(`a stock WebsocketProvider and a device session idle for ${IDLE_MS / 1000} s never reconnect`, {
  timeout: IDLE_MS + 60_000,
}, async () => {
  const relay = await startRelay()

  const stockSockets = countingWebSocket()
  const stockDoc = new Y.Doc()
  const provider = new WebsocketProvider(relay.url, 'idle/stock', stockDoc, {
    WebSocketPolyfill: stockSockets.WebSocket as never,
    disableBc: true,
  })
  cleanups.push(() => provider.destroy())
  provider.awareness.setLocalState(null)
  let stockDisconnects = 0
  provider.on('status', ({ status }: { status: string }) => {
    if (status === 'disconnected') stockDisconnects++
  })

  const deviceSockets = countingWebSocket()
  const storage = await mkdtemp(join(tmpdir(), 'rhizome-idle-'))
  cleanups.push(() => rm(storage, { recursive: true, force: true }))
  const replica: Replica = await openReplica({
    relays: [relay.url],
    storage,
    replicate: ['idle/**'],
    WebSocket: deviceSockets.WebSocket as never,
  })
  cleanups.push(() => replica.close())
  /** Text `t` of a document as the device's store holds it (replicated, not open). */
  const storedText = async (name: string) => {
    const update = await replica.store.getUpdate(name)
    if (update === null) return null
    const doc = new Y.Doc()
    Y.applyUpdate(doc, update)
    return doc.getText('t').toString()
  }
  // A round may briefly show `syncing` on the same socket; a lost socket shows offline/connecting.
  const deviceStates: string[] = []
  replica.on('status', (s) => {
    const state = s.relays[0]!.state
    if (state !== 'synced' && state !== 'syncing') deviceStates.push(state)
  })

  await eventually(() => provider.synced, { what: 'stock provider synced', timeout: 10_000 })
  await replica.whenReplicated({ timeout: 10_000 })
  stockDoc.getText('t').insert(0, 'before ')
  await eventually(async () => (await storedText('idle/stock')) === 'before ', {
    what: 'stock edit replicated to the device',
  })
  expect(stockSockets.opened()).toBe(1)
  expect(deviceSockets.opened()).toBe(1)
  expect(await metric(relay.httpUrl, 'rhizome_connections')).toBe(1)
  expect(await metric(relay.httpUrl, 'rhizome_sessions')).toBe(1)

  // Nothing is sent by either side now. Checked every second, so a reconnect fails the test when
  // it happens rather than at the end.
  const quietSince = Date.now()
  const reconnects = () =>
    `stock sockets ${stockSockets.opened()} (disconnects ${stockDisconnects}), device sockets ` +
    `${deviceSockets.opened()} (states ${deviceStates.join(',') || 'none'})`
  while (Date.now() - quietSince < IDLE_MS) {
    if (
      stockSockets.opened() !== 1 ||
      deviceSockets.opened() !== 1 ||
      stockDisconnects !== 0 ||
      deviceStates.length > 0
    ) {
      throw new Error(`reconnected after ${Date.now() - quietSince} ms idle: ${reconnects()}`)
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  expect(reconnects()).toBe('stock sockets 1 (disconnects 0), device sockets 1 (states none)')
  expect(await metric(relay.httpUrl, 'rhizome_connections')).toBe(1)
  expect(await metric(relay.httpUrl, 'rhizome_sessions')).toBe(1)
  expect(provider.wsconnected).toBe(true)
  expect(replica.status.relays[0]!.state).toBe('synced')

  // Still the same live sockets: the stock edit reaches the device's store, and a document opened
  // now travels over the same session.
  stockDoc.getText('t').insert(0, 'stock ')
  await eventually(async () => (await storedText('idle/stock')) === 'stock before ', {
    what: 'stock edit after the idle period replicated to the device',
    timeout: 10_000,
  })
  const handle = await replica.open('idle/device')
  handle.doc.getText('t').insert(0, 'device')
  await handle.whenDurable(1, { timeout: 10_000 })
  expect(stockSockets.opened()).toBe(1)
  expect(deviceSockets.opened()).toBe(1)
})
