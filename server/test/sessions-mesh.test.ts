import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogOf, health, RawClient } from '../../test/support/rawClient.js'
import { eventually, type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'

afterEach(stopAllRelays)
const sessions: SessionClient[] = []
afterEach(() => {
  for (const s of sessions.splice(0)) s.close()
})

async function connect(relay: RelayProcess, patterns: string[]) {
  const result = await SessionClient.connect(relay.url, { patterns })
  sessions.push(result.client)
  await result.client.round(1)
  return result.client
}

async function writeText(relay: RelayProcess, name: string, text: string): Promise<void> {
  const client = await RawClient.connect(relay.url, name)
  client.doc.getText('t').insert(0, text)
  await client.waitForCopies(1)
  client.close()
}

async function metric(relay: RelayProcess, line: string): Promise<number> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  return Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

describe('device sessions in a mesh', () => {
  it('acknowledges a pushed document with copies = 3 in a 3-relay mesh', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    const c = await startRelay({ peers: [a.url, b.url] })
    await eventually(
      async () => !(await health(b.httpUrl)).recovering && !(await health(c.httpUrl)).recovering,
      { what: 'mesh recovered' },
    )
    const client = await connect(a, ['**'])
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'three copies')
    client.push('mesh/doc', doc)
    expect(await client.waitForAck('mesh/doc', 1, 3)).toMatchObject({ n: 1, copies: 3 })
    for (const relay of [b, c]) expect((await catalogOf(relay.httpUrl)).has('mesh/doc')).toBe(true)
  })

  it('forwards to the session a document created on another relay, live and through a recovery pull', async () => {
    const a = await startRelay()
    const client = await connect(a, ['far/**'])
    // Written on C while C and A are not linked: A first learns of it by pulling C's catalog,
    // which puts a document A never held straight into its store.
    const c = await startRelay()
    await writeText(c, 'far/pulled', 'pulled from C')
    await c.stop()
    const linked = await startRelay({ dataDir: c.dataDir, peers: [a.url] })
    await eventually(() => client.all('sync', (m) => m.doc === 'far/pulled').length > 0, {
      what: 'the pulled document on the session',
    })
    expect(client.replica('far/pulled').getText('t').toString()).toBe('pulled from C')
    expect(await metric(a, 'rhizome_docs_active')).toBe(0)

    // Once linked, a live write on C is forwarded through A's loaded-document path.
    await eventually(async () => !(await health(linked.httpUrl)).recovering, { what: 'link up' })
    await writeText(linked, 'far/live', 'live from C')
    await eventually(() => client.replica('far/live').getText('t').toString() === 'live from C', {
      what: 'the live document on the session',
    })
  })
})
