import { rm } from 'node:fs/promises'
import { EMPTY_STATE_VECTOR, EMPTY_UPDATE, SESSION_PROTOCOL_VERSION } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogOf, RawClient, readDoc } from '../../test/support/rawClient.js'
import { eventually, type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'
import { stockProvider, whenSynced } from './support/providers.js'

afterEach(stopAllRelays)

const sessions: SessionClient[] = []
afterEach(() => {
  for (const s of sessions.splice(0)) s.close()
})

async function connect(relay: RelayProcess, options: Parameters<typeof SessionClient.connect>[1] = {}) {
  const result = await SessionClient.connect(relay.url, options)
  sessions.push(result.client)
  return result
}

async function writeText(relay: RelayProcess, name: string, text: string): Promise<void> {
  const client = await RawClient.connect(relay.url, name)
  client.doc.getText('t').insert(client.doc.getText('t').length, text)
  await client.waitForCopies(1)
  client.close()
}

function textDoc(text: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return doc
}

async function metric(relay: RelayProcess, line: string): Promise<number> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  return Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

describe('device sessions (docs/PROTOCOL.md section 7.2)', () => {
  it('answers hello with welcome, then an empty round for an empty relay', async () => {
    const relay = await startRelay({ args: ['--id', 'relay-welcome'] })
    const { client, welcome } = await connect(relay, { patterns: ['notes/**'] })
    expect(welcome).toMatchObject({ version: SESSION_PROTOCOL_VERSION, relayId: 'relay-welcome', seq: 0 })
    expect(welcome.resumed).toBe(false)
    expect(welcome.storeId).toMatch(/\S+/)
    expect(await client.round(1)).toEqual([])
    expect(await metric(relay, 'rhizome_sessions')).toBe(1)
    expect(await metric(relay, 'rhizome_session_frames_total\\{direction="in"\\}')).toBe(1)
    client.close()
    await eventually(async () => (await metric(relay, 'rhizome_sessions')) === 0, { what: 'gauge back to 0' })
  })

  it('lists every matching document with its digest for a new device', async () => {
    const relay = await startRelay()
    const names = ['notes/a', 'notes/b/c', 'notes/d']
    for (const name of [...names, 'other/x', 'notesx']) await writeText(relay, name, `text of ${name}`)
    const { client, welcome } = await connect(relay, { patterns: ['notes/**'] })
    expect(welcome.resumed).toBe(false)
    const entries = await client.round(1)
    const catalog = await catalogOf(relay.httpUrl)
    expect(entries.map((e) => e.doc).sort()).toEqual(names)
    for (const e of entries) expect(e.digest).toBe(catalog.get(e.doc))
    expect(client.all('changes').every((m) => m.seq === welcome.seq)).toBe(true)
  })

  it('answers sync step1 with step2 and its own step1', async () => {
    const relay = await startRelay()
    await writeText(relay, 'notes/a', 'hello from the relay')
    const { client } = await connect(relay, { patterns: [] })
    client.send({ type: 'sync', doc: 'notes/a', step: 'step1', payload: EMPTY_STATE_VECTOR })
    const step2 = await client.waitFor('sync', (m) => m.doc === 'notes/a' && m.step === 'step2')
    const step1 = await client.waitFor('sync', (m) => m.doc === 'notes/a' && m.step === 'step1')
    const doc = new Y.Doc()
    Y.applyUpdate(doc, step2.payload)
    expect(doc.getText('t').toString()).toBe('hello from the relay')
    expect(step1.payload).toEqual(Y.encodeStateVector(doc))
    expect(client.messages.indexOf(step2)).toBeLessThan(client.messages.indexOf(step1))
  })

  it('stores a pushed document and acknowledges every step2/update per document with copies = 1', async () => {
    const relay = await startRelay()
    const { client } = await connect(relay, { patterns: ['notes/**'] })
    await client.round(1)
    const doc = textDoc('pushed by a device')
    client.push('notes/pushed', doc)
    expect(await client.waitForAck('notes/pushed', 1)).toMatchObject({ n: 1, copies: 1 })
    const sv = Y.encodeStateVector(doc)
    doc.getText('t').insert(0, '> ')
    client.send({
      type: 'sync',
      doc: 'notes/pushed',
      step: 'update',
      payload: Y.encodeStateAsUpdate(doc, sv),
    })
    // The empty update applies nothing and is still counted and acknowledged.
    client.send({ type: 'sync', doc: 'notes/pushed', step: 'update', payload: EMPTY_UPDATE })
    client.push('notes/other', textDoc('another'))
    await client.waitForAck('notes/pushed', 3)
    expect(await client.waitForAck('notes/other', 1)).toMatchObject({ n: 1, copies: 1 })
    const acks = client.all('ack', (a) => a.doc === 'notes/pushed')
    for (let i = 1; i < acks.length; i++) expect(acks[i]!.n).toBeGreaterThanOrEqual(acks[i - 1]!.n)
    expect((await readDoc(relay.url, 'notes/pushed')).getText('t').toString()).toBe('> pushed by a device')
    expect((await catalogOf(relay.httpUrl)).has('notes/other')).toBe(true)
  })

  it('carries live updates from a stock y-websocket client to the session and back, never echoing', async () => {
    const relay = await startRelay()
    const { client } = await connect(relay, { patterns: ['live/**'] })
    await client.round(1)
    const provider = stockProvider(relay.url, 'live/doc')
    await whenSynced(provider)
    const mirror = client.replica('live/doc')
    provider.doc.getText('t').insert(0, 'from the provider')
    await eventually(() => mirror.getText('t').toString() === 'from the provider', {
      what: 'update in session',
    })

    const device = new Y.Doc()
    Y.applyUpdate(device, Y.encodeStateAsUpdate(mirror))
    const sv = Y.encodeStateVector(device)
    device.getText('t').insert(0, 'device: ')
    client.send({ type: 'sync', doc: 'live/doc', step: 'update', payload: Y.encodeStateAsUpdate(device, sv) })
    await eventually(() => provider.doc.getText('t').toString() === 'device: from the provider', {
      what: 'session update at the provider',
    })
    // A later update of the provider: any echo of the device's update would have arrived before it.
    provider.doc.getMap('m').set('barrier', true)
    await eventually(() => mirror.getMap('m').get('barrier') === true, { what: 'barrier' })
    for (const m of client.all('sync', (s) => s.doc === 'live/doc' && s.step === 'update')) {
      const clients = new Set(Y.decodeUpdate(m.payload).structs.map((s) => s.id.client))
      expect(clients.has(device.clientID)).toBe(false)
    }
    await client.waitForAck('live/doc', 1)
  })

  it('closes a session that sends a malformed frame with 4400; other sessions and sockets keep working', async () => {
    const relay = await startRelay()
    const { client: bad } = await connect(relay, { patterns: ['**'] })
    const { client: good } = await connect(relay, { patterns: ['**'] })
    const provider = stockProvider(relay.url, 'cc/doc')
    await whenSynced(provider)
    bad.sendRaw(new Uint8Array([5, 3, 0xff]))
    expect((await bad.waitEnd()).code).toBe(4400)
    good.push('cc/pushed', textDoc('still served'))
    await good.waitForAck('cc/pushed', 1)
    provider.doc.getText('t').insert(0, 'provider still syncs')
    await eventually(() => good.replica('cc/doc').getText('t').toString() === 'provider still syncs', {
      what: 'live update on the good session',
    })
  })

  it.each([
    ['a first frame other than hello', (c: SessionClient) => c.send({ type: 'open', doc: 'notes/a' })],
    [
      'an unsupported version',
      (c: SessionClient) => c.send({ type: 'hello', version: 99, checkpoint: null, patterns: [] }),
    ],
    [
      'an invalid pattern',
      (c: SessionClient) => c.send({ type: 'hello', version: 1, checkpoint: null, patterns: ['/abs'] }),
    ],
    ['a text frame', (c: SessionClient) => c.sendRaw('hello')],
    ['an empty frame', (c: SessionClient) => c.sendRaw(new Uint8Array(0))],
    ['a relay message', (c: SessionClient) => c.send({ type: 'keepalive' })],
  ])('closes a session on %s with 4400', async (_what, sendBad) => {
    const relay = await startRelay()
    const client = await SessionClient.open(relay.url)
    sessions.push(client)
    sendBad(client)
    expect((await client.waitEnd()).code).toBe(4400)
  })

  it('closes a session with 4400 for an invalid document name or a state vector that does not decode', async () => {
    const relay = await startRelay()
    for (const bad of [
      { type: 'open', doc: '../etc' } as const,
      { type: 'sync', doc: 'notes/a', step: 'step1', payload: new Uint8Array([0xff, 0xff]) } as const,
    ]) {
      const { client } = await connect(relay)
      client.send(bad)
      expect((await client.waitEnd()).code).toBe(4400)
    }
  })

  it('closes a frame over --max-message-bytes with 4413', async () => {
    const relay = await startRelay({ args: ['--max-message-bytes', '4096'] })
    const { client } = await connect(relay)
    client.push('big/doc', textDoc('x'.repeat(10_000)))
    expect((await client.waitEnd()).code).toBe(4413)
    expect((await catalogOf(relay.httpUrl)).has('big/doc')).toBe(false)
  })

  it('closes a session over its rate (10x the per-socket --rate-messages) with 4429', async () => {
    const relay = await startRelay({ args: ['--rate-messages', '5'] })
    const { client } = await connect(relay)
    // 50 messages a second, burst 100: 90 pass, 300 do not.
    for (let i = 0; i < 90; i++) client.send({ type: 'close', doc: 'rate/doc' })
    client.push('rate/ok', textDoc('within the rate'))
    await client.waitForAck('rate/ok', 1)
    for (let i = 0; i < 300; i++) client.send({ type: 'close', doc: 'rate/doc' })
    expect((await client.waitEnd()).code).toBe(4429)
  })

  it('resumes from a checkpoint: lists only what changed (10 of 1,000 documents)', {
    timeout: 120_000,
  }, async () => {
    const relay = await startRelay()
    const { client: writer } = await connect(relay, { patterns: [] })
    const name = (i: number) => `bulk/${String(i).padStart(4, '0')}`
    for (let i = 0; i < 1000; i++) writer.push(name(i), textDoc(`document ${i}`))
    await eventually(() => writer.all('ack').length >= 1000, { timeout: 60_000, what: '1,000 ACKs' })
    writer.close()

    const { client: first, welcome } = await connect(relay, { patterns: ['bulk/**'] })
    expect((await first.round(1)).length).toBe(1000)
    first.close()
    const checkpoint = { storeId: welcome.storeId, seq: welcome.seq }

    const changed = [3, 141, 592, 653, 589, 793, 238, 462, 643, 383].map(name)
    for (const doc of changed) await writeText(relay, doc, ' changed')
    const { client: again, welcome: resumedWelcome } = await connect(relay, {
      checkpoint,
      patterns: ['bulk/**'],
    })
    expect(resumedWelcome.resumed).toBe(true)
    expect(resumedWelcome.seq).toBeGreaterThan(checkpoint.seq)
    const entries = await again.round(1)
    expect(entries.map((e) => e.doc).sort()).toEqual([...changed].sort())
    const catalog = await catalogOf(relay.httpUrl)
    for (const e of entries) expect(e.digest).toBe(catalog.get(e.doc))

    // Head advances: a checkpoint follows the live update that advanced it.
    await writeText(relay, name(7), ' live')
    const update = await again.waitFor('sync', (m) => m.doc === name(7) && m.step === 'update')
    const cp = await again.waitFor('checkpoint', (m) => m.seq > resumedWelcome.seq)
    expect(again.messages.indexOf(update)).toBeLessThan(again.messages.indexOf(cp))

    // A checkpoint ahead of the relay's head is not honoured.
    const { welcome: ahead } = await connect(relay, {
      checkpoint: { storeId: welcome.storeId, seq: 1_000_000 },
      patterns: ['bulk/**'],
    })
    expect(ahead.resumed).toBe(false)
  })

  it('does not resume on a relay wiped and restarted with the same --id (new store id)', async () => {
    const relay = await startRelay({ args: ['--id', 'steady'] })
    await writeText(relay, 'notes/a', 'before the wipe')
    const { client, welcome } = await connect(relay, { patterns: ['notes/**'] })
    await client.round(1)
    client.close()
    await relay.kill()
    await rm(relay.dataDir, { recursive: true, force: true })
    await relay.start()
    const checkpoint = { storeId: welcome.storeId, seq: welcome.seq }
    const { client: after, welcome: fresh } = await connect(relay, { checkpoint, patterns: ['notes/**'] })
    expect(fresh.relayId).toBe('steady')
    expect(fresh.storeId).not.toBe(welcome.storeId)
    expect(fresh.resumed).toBe(false)
    expect(await after.round(1)).toEqual([])
  })

  it('closes sessions with 1001 on shutdown', async () => {
    const relay = await startRelay()
    const { client } = await connect(relay, { patterns: ['**'] })
    await client.round(1)
    client.push('bye/doc', textDoc('last words'))
    await client.waitForAck('bye/doc', 1)
    const stopped = relay.stop()
    expect((await client.waitEnd()).code).toBe(1001)
    expect(await stopped).toBe(0)
  })
})
