import { encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { stockProvider, whenSynced } from './support/providers.js'
import { WireClient } from './support/WireClient.js'

afterEach(stopAllRelays)

/** A raw rhizome=1 writer: every local edit goes out as one SYNC update. */
async function writer(
  url: string,
  name: string,
): Promise<{ client: WireClient; doc: Y.Doc; sent: () => number }> {
  const client = await WireClient.open(url, name)
  const doc = new Y.Doc()
  let sent = 0
  doc.on('update', (u: Uint8Array) => {
    sent++
    client.send(encodeSyncUpdate(u))
  })
  return { client, doc, sent: () => sent }
}

describe('ACK', () => {
  it('acknowledges step2 and updates of a rhizome=1 socket with increasing n and copies = 1', async () => {
    const relay = await startRelay()
    const client = await WireClient.open(relay.url, 'acks/counting')
    await client.waitFor('sync-step1')
    // n = 1 is the (empty) step2 every client answers the relay's step1 with.
    client.send(encodeSyncStep2(Y.encodeStateAsUpdate(new Y.Doc())))
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => client.send(encodeSyncUpdate(u)))
    for (let i = 0; i < 5; i++) doc.getArray('a').push([i])
    // A step1 is not counted.
    client.send(encodeSyncStep1(Y.encodeStateVector(doc)))
    await eventually(() => client.acks.at(-1)?.n === 6, { what: 'ACK of message 6' })
    const acks = client.acks
    for (let i = 1; i < acks.length; i++) expect(acks[i]!.n).toBeGreaterThanOrEqual(acks[i - 1]!.n)
    expect(acks.every((a) => a.copies === 1)).toBe(true)
    expect(acks.every((a) => a.n >= 1 && a.n <= 6)).toBe(true)

    // The metrics of issue 3 count what just happened.
    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text()
    const value = (line: string) =>
      Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
    expect(value('rhizome_connections')).toBe(1)
    expect(value('rhizome_docs_active')).toBe(1)
    expect(value('rhizome_docs_stored')).toBe(1)
    expect(value('rhizome_updates_in_total')).toBe(6)
    expect(value('rhizome_bytes_in_total')).toBeGreaterThan(0)
    expect(value('rhizome_bytes_out_total')).toBeGreaterThan(0)
    expect(value('rhizome_commit_seconds_count')).toBeGreaterThan(0)
    expect(value('rhizome_ack_seconds_count\\{copies="1"\\}')).toBeGreaterThan(0)
    client.close()
  })

  it('keeps an acknowledged update through kill -9 immediately after the ACK', async () => {
    const relay = await startRelay()
    for (let round = 0; round < 4; round++) {
      const { client, doc, sent } = await writer(relay.url, 'acks/crash')
      client.send(encodeSyncStep1(Y.encodeStateVector(doc)))
      await client.waitFor('sync-step2')
      const text = doc.getText('t')
      // The writer starts from what the relay has, so its state extends the stored one.
      const step2 = client.messages.find((m) => m?.type === 'sync-step2')
      if (step2?.type === 'sync-step2') Y.applyUpdate(doc, step2.update, 'relay')
      doc.transact(() => {
        doc.getMap('rounds').set(`round-${round}`, round)
        text.insert(text.length, `[${round}]`)
      })
      const ack = await eventually(() => client.acks.find((a) => a.n >= sent()), { what: 'ACK of the edit' })
      expect(ack.copies).toBe(1)
      await relay.kill()
      await relay.start()
      client.close()
      doc.destroy()
    }
    const reader = stockProvider(relay.url, 'acks/crash')
    await whenSynced(reader)
    expect(reader.doc.getText('t').toString()).toBe('[0][1][2][3]')
    expect(reader.doc.getMap('rounds').toJSON()).toEqual({
      'round-0': 0,
      'round-1': 1,
      'round-2': 2,
      'round-3': 3,
    })
  })

  it('applies updates sent while the document is still loading, after the load', async () => {
    const relay = await startRelay()
    const big = await writer(relay.url, 'acks/loading')
    for (let t = 0; t < 40; t++) {
      big.doc.transact(() => {
        for (let i = 0; i < 50; i++) big.doc.getArray('items').push([`item ${t}.${i} `.repeat(20)])
      })
    }
    await eventually(() => big.client.acks.at(-1)?.n === 40, { what: 'big document acknowledged' })
    big.client.close()
    await relay.stop()
    await relay.start()

    // Send an update in the same tick the socket opens, before the relay can have loaded the doc.
    const late = new Y.Doc()
    late.getMap('m').set('late', true)
    const client = new WireClient(relay.url, 'acks/loading')
    client.ws.once('open', () => client.send(encodeSyncUpdate(Y.encodeStateAsUpdate(late))))
    await eventually(() => client.acks.find((a) => a.n === 1), { what: 'ACK of the early update' })
    client.close()

    const reader = stockProvider(relay.url, 'acks/loading')
    await whenSynced(reader)
    expect(reader.doc.getArray('items').length).toBe(2000)
    expect(reader.doc.getMap('m').get('late')).toBe(true)
  })
})
