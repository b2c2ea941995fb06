import { EMPTY_STATE_VECTOR } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { RawClient } from '../../test/support/rawClient.js'
import { eventually, type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'
import { stockProvider, whenSynced } from './support/providers.js'

afterEach(stopAllRelays)
const sessions: SessionClient[] = []
afterEach(() => {
  for (const s of sessions.splice(0)) s.close()
})

async function connect(relay: RelayProcess, patterns: string[]) {
  const result = await SessionClient.connect(relay.url, { patterns })
  sessions.push(result.client)
  return result
}

async function writeText(relay: RelayProcess, name: string, text: string): Promise<void> {
  const client = await RawClient.connect(relay.url, name)
  client.doc.getText('t').insert(0, text)
  await client.waitForCopies(1)
  client.close()
}

describe('device session documents (docs/PROTOCOL.md section 7.2)', () => {
  it('replicate adds patterns: a new round lists the documents of the new patterns, then they go live', async () => {
    const relay = await startRelay()
    for (const name of ['notes/a', 'contacts/ann', 'contacts/bob', 'contacts/deep/x', 'other/z']) {
      await writeText(relay, name, name)
    }
    const { client } = await connect(relay, ['notes/**'])
    expect((await client.round(1)).map((e) => e.doc)).toEqual(['notes/a'])
    client.send({ type: 'replicate', patterns: ['contacts/*'] })
    const entries = await client.round(2)
    expect(entries.map((e) => e.doc).sort()).toEqual(['contacts/ann', 'contacts/bob'])
    expect(
      client.all('changes', (m) => m.round === 2).every((m) => !m.entries.some((e) => e.doc === 'notes/a')),
    ).toBe(true)
    await writeText(relay, 'contacts/carol', 'new contact')
    await writeText(relay, 'other/z', 'not replicated')
    await writeText(relay, 'notes/a', 'barrier ')
    await client.waitFor('sync', (m) => m.doc === 'notes/a' && m.step === 'update')
    expect(client.replica('contacts/carol').getText('t').toString()).toBe('new contact')
    expect(client.all('sync', (m) => m.doc === 'other/z')).toEqual([])
  })

  it('forwards live updates of a document synced explicitly outside the patterns', async () => {
    const relay = await startRelay()
    await writeText(relay, 'extra/doc', 'first')
    const { client } = await connect(relay, ['notes/**'])
    await client.round(1)
    client.send({ type: 'sync', doc: 'extra/doc', step: 'step1', payload: EMPTY_STATE_VECTOR })
    await client.waitFor('sync', (m) => m.doc === 'extra/doc' && m.step === 'step2')
    const mirror = client.replica('extra/doc')
    await writeText(relay, 'extra/doc', 'second ')
    await eventually(() => mirror.getText('t').toString().includes('second'), { what: 'live update' })
  })

  it('open gives awareness both ways; close removes the states the session introduced', async () => {
    const relay = await startRelay()
    const provider = stockProvider(relay.url, 'shown/doc')
    await whenSynced(provider)
    provider.awareness.setLocalState({ user: 'provider' })
    const { client } = await connect(relay, ['shown/**'])
    await client.round(1)
    client.send({ type: 'open', doc: 'shown/doc' })
    const initial = await client.waitFor('awareness', (m) => m.doc === 'shown/doc')
    const seen = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(seen, initial.update, 'relay')
    expect(seen.getStates().get(provider.awareness.clientID)).toEqual({ user: 'provider' })

    const device = new awarenessProtocol.Awareness(new Y.Doc())
    device.setLocalState({ user: 'device' })
    const update = awarenessProtocol.encodeAwarenessUpdate(device, [device.clientID])
    client.send({ type: 'awareness', doc: 'shown/doc', update })
    await eventually(() => provider.awareness.getStates().get(device.clientID)?.user === 'device', {
      what: 'device presence at the provider',
    })
    client.send({ type: 'close', doc: 'shown/doc' })
    await eventually(() => !provider.awareness.getStates().has(device.clientID), {
      what: 'device presence removed on close',
    })
    // The session still receives the document's updates, once, through the live feed.
    provider.doc.getText('t').insert(0, 'after close')
    await eventually(() => client.replica('shown/doc').getText('t').toString() === 'after close', {
      what: 'live update after close',
    })
  })

  it('sends an open document its updates once (live feed only, not the document broadcast too)', async () => {
    const relay = await startRelay()
    const { client } = await connect(relay, ['once/**'])
    await client.round(1)
    client.send({ type: 'open', doc: 'once/doc' })
    await client.waitFor('awareness', (m) => m.doc === 'once/doc')
    const provider = stockProvider(relay.url, 'once/doc')
    await whenSynced(provider)
    provider.doc.getText('t').insert(0, 'one edit')
    await eventually(() => client.replica('once/doc').getText('t').toString() === 'one edit', {
      what: 'the edit',
    })
    provider.doc.getMap('m').set('barrier', 1)
    await eventually(() => client.replica('once/doc').getMap('m').get('barrier') === 1, { what: 'barrier' })
    expect(client.all('sync', (m) => m.doc === 'once/doc' && m.step === 'update').length).toBe(2)
  })
})
