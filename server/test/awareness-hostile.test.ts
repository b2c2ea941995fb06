import { encodeAwareness, encodeQueryAwareness } from '@rhizome/protocol'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { stockProvider, whenSynced } from './support/providers.js'
import { signToken } from './support/tokens.js'
import { WireClient } from './support/WireClient.js'

afterEach(stopAllRelays)

/** An AWARENESS frame with the given raw entries (state JSON as written). */
function awarenessFrame(entries: [clientID: number, clock: number, json: string][]): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const [id, clock, json] of entries) {
    encoding.writeVarUint(e, id)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, json)
  }
  return encodeAwareness(encoding.toUint8Array(e))
}

/** The states a raw client learned from every AWARENESS frame it received, in order. */
function statesSeen(client: WireClient): Map<number, { clock: number; state: unknown }> {
  const seen = new Map<number, { clock: number; state: unknown }>()
  for (const m of client.messages) {
    if (m?.type !== 'awareness') continue
    const d = decoding.createDecoder(m.update)
    const n = decoding.readVarUint(d)
    for (let i = 0; i < n; i++) {
      const id = decoding.readVarUint(d)
      const clock = decoding.readVarUint(d)
      seen.set(id, { clock, state: JSON.parse(decoding.readVarString(d)) })
    }
  }
  return seen
}

const awarenessFrames = (c: WireClient) => c.messages.filter((m) => m?.type === 'awareness').length

describe('poisoned awareness (red-team finding 3)', () => {
  it('closes a sender of a state JSON.stringify cannot re-encode with 4400 and keeps nothing of it', async () => {
    const relay = await startRelay()
    const alice = stockProvider(relay.url, 'presence/poison')
    await whenSynced(alice)
    alice.awareness.setLocalStateField('user', { name: 'alice' })
    const aliceId = alice.doc.clientID

    // 20,000 nested arrays: JSON.parse accepts it, JSON.stringify overflows the stack.
    const poison = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    const mallory = await WireClient.open(relay.url, 'presence/poison', { rhizome: false })
    await mallory.waitFor('sync-step1')
    // Set a state, remove it, then poison it: y-protocols reports the last one as an "update" of a
    // known client, which the relay once failed to count as the sender's, so closing the sender
    // left the poison in place for the 30 s awareness timeout.
    mallory.send(awarenessFrame([[424242, 1, '{"user":{"name":"mallory"}}']]))
    mallory.send(awarenessFrame([[424242, 2, 'null']]))
    mallory.send(awarenessFrame([[424242, 3, poison]]))
    expect((await mallory.waitEnd()).code).toBe(4400)

    // A new socket is greeted with the document's states, and QUERY_AWARENESS answers, with no 4500.
    const late = await WireClient.open(relay.url, 'presence/poison', { rhizome: false })
    await eventually(() => late.ended || statesSeen(late).has(aliceId), {
      what: "alice's state on a new socket",
    })
    expect(late.ended).toBeNull()
    const before = awarenessFrames(late)
    late.send(encodeQueryAwareness())
    await eventually(() => awarenessFrames(late) > before, { what: 'the answer to QUERY_AWARENESS' })
    expect(late.ended).toBeNull()
    expect(statesSeen(late).has(424242)).toBe(false)
    expect(statesSeen(late).get(aliceId)?.state).toEqual({ user: { name: 'alice' } })

    // A stock client joining later syncs and sees alice; alice never saw the poison.
    const bob = stockProvider(relay.url, 'presence/poison')
    await whenSynced(bob)
    await eventually(() => bob.awareness.getStates().get(aliceId)?.user?.name === 'alice', {
      what: "alice's state on a stock late joiner",
    })
    expect(alice.awareness.getStates().has(424242)).toBe(false)
    expect(alice.wsconnected).toBe(true)
    late.close()
  })
})

describe('awareness spoofing (red-team finding 4)', () => {
  const SECRET = 'awareness-spoofing-secret-3b7f'

  it("refuses to let read-only and writing sockets set or remove another socket's state", async () => {
    const relay = await startRelay({ args: ['--auth-secret', SECRET] })
    const read = await signToken(SECRET, { docs: ['room/**'], access: 'read', sub: 'mallory-read' })
    const write = await signToken(SECRET, { docs: ['room/**'], access: 'write', sub: 'mallory-write' })

    const alice = stockProvider(relay.url, 'room/1', undefined, { token: write })
    const bob = stockProvider(relay.url, 'room/1', undefined, { token: read })
    await Promise.all([whenSynced(alice), whenSynced(bob)])
    alice.awareness.setLocalStateField('user', { name: 'alice' })
    const aliceId = alice.doc.clientID
    await eventually(() => bob.awareness.getStates().get(aliceId)?.user?.name === 'alice', {
      what: "alice's state on bob",
    })

    for (const [who, token, ownId] of [
      ['mallory-read', read, 1001],
      ['mallory-write', write, 1002],
    ] as const) {
      const mallory = await WireClient.open(relay.url, 'room/1', { token, rhizome: false })
      const aliceClock = (await eventually(() => statesSeen(mallory).get(aliceId))).clock
      // MALLORY-as-alice with a higher clock, then a removal of alice's state (state null), then a
      // sentinel for mallory's own id: once bob sees the sentinel, the relay has handled the rest.
      mallory.send(awarenessFrame([[aliceId, aliceClock + 10, '{"user":{"name":"MALLORY-as-alice"}}']]))
      mallory.send(awarenessFrame([[aliceId, aliceClock + 20, 'null']]))
      mallory.send(
        awarenessFrame([
          [aliceId, aliceClock + 30, '{"user":{"name":"MALLORY-as-alice"}}'],
          [ownId, 1, JSON.stringify({ user: { name: who } })],
        ]),
      )
      await eventually(() => bob.awareness.getStates().get(ownId)?.user?.name === who, {
        what: `${who}'s own state on bob`,
      })
      expect(bob.awareness.getStates().get(aliceId)).toEqual({ user: { name: 'alice' } })
      expect(statesSeen(mallory).get(aliceId)?.state).toEqual({ user: { name: 'alice' } })
      // Dropped, not refused: a stock client echoes every state it receives, so this must not close.
      expect(mallory.ended).toBeNull()
      mallory.close()
      await eventually(() => !bob.awareness.getStates().has(ownId), {
        what: `${who}'s state removed on close`,
      })
    }

    // Alice's socket is untouched: still connected, her own state as she set it.
    expect(alice.wsconnected).toBe(true)
    expect(alice.awareness.getLocalState()).toEqual({ user: { name: 'alice' } })
    const late = await WireClient.open(relay.url, 'room/1', { token: read, rhizome: false })
    await eventually(() => statesSeen(late).get(aliceId), { what: 'states on a late reader' })
    expect(statesSeen(late).get(aliceId)?.state).toEqual({ user: { name: 'alice' } })
    late.close()

    // Alice reconnects with the same clientID once her old socket's state was removed: it is hers again.
    alice.disconnect()
    await eventually(() => !bob.awareness.getStates().has(aliceId), {
      what: "alice's state removed on close",
    })
    alice.connect()
    await whenSynced(alice)
    alice.awareness.setLocalStateField('user', { name: 'alice again' })
    await eventually(() => bob.awareness.getStates().get(aliceId)?.user?.name === 'alice again', {
      what: "alice's state after her reconnect",
    })
  })
})
