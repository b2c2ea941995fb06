import { digestOfDoc, encodeAwareness, encodeSyncStep1, encodeSyncUpdate } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { stockProvider, whenSynced } from './support/providers.js'
import { WireClient } from './support/WireClient.js'

afterEach(stopAllRelays)

describe('stock y-websocket clients', () => {
  it('sync text and map content through the relay, and a third reads it back after a restart', async () => {
    const relay = await startRelay()
    const a = stockProvider(relay.url, 'notes/shared')
    const b = stockProvider(relay.url, 'notes/shared')
    await Promise.all([whenSynced(a), whenSynced(b)])

    a.doc.getText('t').insert(0, 'hello from a')
    await eventually(() => b.doc.getText('t').toString() === 'hello from a', { what: "a's text on b" })
    b.doc.getMap('m').set('from-b', { n: 1, list: [1, 2, 3] })
    b.doc.getText('t').insert(0, '>> ')
    await eventually(
      () =>
        a.doc.getText('t').toString() === b.doc.getText('t').toString() &&
        a.doc.getMap('m').get('from-b') !== undefined,
      { what: 'a and b converged' },
    )
    expect(a.doc.getText('t').toString()).toBe('>> hello from a')
    expect(digestOfDoc(a.doc)).toBe(digestOfDoc(b.doc))
    const digest = digestOfDoc(a.doc)

    // The relay flushes on SIGTERM and exits 0; the content comes back from its store.
    a.destroy()
    b.destroy()
    expect(await relay.stop()).toBe(0)
    await relay.start()
    const c = stockProvider(relay.url, 'notes/shared')
    await whenSynced(c)
    expect(c.doc.getText('t').toString()).toBe('>> hello from a')
    expect(c.doc.getMap('m').get('from-b')).toEqual({ n: 1, list: [1, 2, 3] })
    expect(digestOfDoc(c.doc)).toBe(digest)
  })

  it('never sends a type-100 ACK to a socket without rhizome=1, and stock clients see only known types', async () => {
    const relay = await startRelay()
    const raw = await WireClient.open(relay.url, 'plain/doc', { rhizome: false })
    const doc = new Y.Doc()
    raw.send(encodeSyncStep1(Y.encodeStateVector(doc)))
    doc.on('update', (u: Uint8Array) => raw.send(encodeSyncUpdate(u)))
    for (let i = 0; i < 20; i++) doc.getText('t').insert(0, `${i}`)
    const reader = stockProvider(relay.url, 'plain/doc')
    await whenSynced(reader)
    await eventually(() => reader.doc.getText('t').length === doc.getText('t').length, {
      what: 'reader caught up',
    })
    const types = new Set(raw.messages.map((m) => m?.type))
    expect(types.has('sync-step1')).toBe(true)
    expect(types.has('ack')).toBe(false)
    expect(raw.messages).not.toContain(null)
    raw.close()
  })
})

describe('awareness', () => {
  it('reaches the other client and is removed when a client disconnects', async () => {
    const relay = await startRelay()
    const a = stockProvider(relay.url, 'presence/room')
    const b = stockProvider(relay.url, 'presence/room')
    await Promise.all([whenSynced(a), whenSynced(b)])
    a.awareness.setLocalStateField('user', { name: 'alice' })
    await eventually(() => b.awareness.getStates().get(a.doc.clientID)?.user?.name === 'alice', {
      what: "a's presence on b",
    })

    // A raw client whose socket dies without a goodbye: the relay itself must remove its state.
    const ghostDoc = new Y.Doc()
    const ghostAwareness = new awarenessProtocol.Awareness(ghostDoc)
    ghostAwareness.setLocalState({ user: { name: 'ghost' } })
    const ghost = await WireClient.open(relay.url, 'presence/room', { rhizome: false })
    ghost.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(ghostAwareness, [ghostDoc.clientID])))
    await eventually(() => b.awareness.getStates().get(ghostDoc.clientID)?.user?.name === 'ghost', {
      what: "ghost's presence on b",
    })
    ghost.ws.terminate()
    await eventually(() => !b.awareness.getStates().has(ghostDoc.clientID), { what: 'ghost removed on b' })
    ghostAwareness.destroy()

    // A late joiner gets the current states on connect; a stock client's disconnect removes it.
    const late = stockProvider(relay.url, 'presence/room')
    await eventually(() => late.awareness.getStates().get(a.doc.clientID)?.user?.name === 'alice', {
      what: "a's presence on the late joiner",
    })
    expect(late.awareness.getStates().has(ghostDoc.clientID)).toBe(false)
    ;(a.ws as unknown as WebSocket | null)?.terminate()
    a.shouldConnect = false
    await eventually(() => !b.awareness.getStates().has(a.doc.clientID), { what: 'a removed on b' })
  })
})
