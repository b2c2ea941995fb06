import { EMPTY_STATE_VECTOR, EMPTY_UPDATE } from '@rhizome/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { RawClient } from '../../test/support/rawClient.js'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'
import { catalog } from './support/catalog.js'
import { signToken } from './support/tokens.js'

const SECRET = 'session-auth-secret-0123456789'
let relay: RelayProcess
let admin: string
const sessions: SessionClient[] = []

beforeAll(async () => {
  relay = await startRelay({ args: ['--auth-secret', SECRET] })
  admin = await signToken(SECRET, { docs: ['**'], access: 'admin' })
})
afterAll(async () => {
  for (const s of sessions) s.close()
  await stopAllRelays()
})

async function connect(token: string, patterns: string[]) {
  const result = await SessionClient.connect(relay.url, { token, patterns })
  sessions.push(result.client)
  return result
}

async function writeText(name: string, text: string): Promise<void> {
  const client = await RawClient.connect(relay.url, name, { token: admin })
  client.doc.getText('t').insert(0, text)
  await client.waitForCopies(1)
  client.close()
}

function textDoc(text: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return doc
}

describe('device session auth (docs/PROTOCOL.md sections 5 and 7.2)', () => {
  it.each([
    ['a missing token', async () => undefined],
    ['an expired token', () => signToken(SECRET, { docs: ['**'], access: 'write', expiresIn: -10 })],
    [
      'a token signed with another secret',
      () => signToken('another-secret-0123456789', { docs: ['**'], access: 'write' }),
    ],
  ])('refuses %s with AUTH denied and 4401', async (_what, token) => {
    const t = await token()
    const client = new SessionClient(relay.url, t === undefined ? {} : { token: t })
    sessions.push(client)
    const ending = await client.waitEnd()
    expect(ending.code).toBe(4401)
    // The AUTH permission-denied frame of section 3 comes first, as on document sockets.
    expect([...client.frames[0]!.slice(0, 2)]).toEqual([2, 0])
    expect(client.frames.length).toBe(1)
  })

  it('refuses a write on a read-only token (4403), stores nothing and keeps the session open', async () => {
    await writeText('ro/doc', 'original')
    await writeText('ro/other', 'other')
    const before = (await catalog(relay.httpUrl, admin)).get('ro/doc')!.digest
    const reader = await signToken(SECRET, { docs: ['ro/**'], access: 'read' })
    const { client } = await connect(reader, ['ro/**'])
    expect((await client.round(1)).map((e) => e.doc).sort()).toEqual(['ro/doc', 'ro/other'])

    const doc = textDoc('a read-only write')
    client.push('ro/doc', doc)
    const refused = await client.waitFor('refused', (m) => m.doc === 'ro/doc')
    expect(refused).toMatchObject({ code: 4403, reason: 'read-only token cannot write' })
    expect((await catalog(relay.httpUrl, admin)).get('ro/doc')!.digest).toBe(before)
    expect(client.all('ack', (a) => a.doc === 'ro/doc')).toEqual([])

    // The session goes on: it reads, and an update that changes nothing is acknowledged.
    client.send({ type: 'sync', doc: 'ro/other', step: 'step1', payload: EMPTY_STATE_VECTOR })
    await client.waitFor('sync', (m) => m.doc === 'ro/other' && m.step === 'step2')
    client.send({ type: 'sync', doc: 'ro/other', step: 'step2', payload: EMPTY_UPDATE })
    expect(await client.waitForAck('ro/other', 1)).toMatchObject({ n: 1, copies: 1 })
    // It still receives live updates of what it may read.
    await writeText('ro/other', 'live ')
    await client.waitFor('sync', (m) => m.doc === 'ro/other' && m.step === 'update')
    expect(client.ended).toBeNull()
  })

  it('refuses documents outside the token patterns (4403) and never lists or forwards them', async () => {
    await writeText('theirs/listed', 'not for you')
    const token = await signToken(SECRET, { docs: ['mine/**'], access: 'write' })
    const { client } = await connect(token, ['**'])
    await client.round(1)
    expect(client.all('changes').flatMap((m) => m.entries.map((e) => e.doc))).not.toContain('theirs/listed')

    client.push('theirs/new', textDoc('sneaked in'))
    const refused = await client.waitFor('refused', (m) => m.doc === 'theirs/new')
    expect(refused).toMatchObject({ code: 4403, reason: 'document not granted' })
    client.send({ type: 'sync', doc: 'theirs/listed', step: 'step1', payload: EMPTY_STATE_VECTOR })
    await client.waitFor('refused', (m) => m.doc === 'theirs/listed')
    // After a refusal the document's frames are ignored: no second refusal, no answer.
    client.push('theirs/new', textDoc('again'))
    client.push('mine/doc', textDoc('mine'))
    await client.waitForAck('mine/doc', 1)
    expect(client.all('refused', (m) => m.doc === 'theirs/new').length).toBe(1)
    expect((await catalog(relay.httpUrl, admin)).has('theirs/new')).toBe(false)

    await writeText('theirs/listed', 'live ')
    await writeText('mine/later', 'barrier')
    await client.waitFor('sync', (m) => m.doc === 'mine/later' && m.step === 'update')
    expect(client.all('sync', (m) => m.doc.startsWith('theirs/') && m.step !== 'step1')).toEqual([])
    expect(client.ended).toBeNull()
  })

  it('closes a session with 4401 when its token expires', async () => {
    const token = await signToken(SECRET, { docs: ['**'], access: 'write', expiresIn: 2 })
    const { client } = await connect(token, ['**'])
    const ending = await client.waitEnd(10_000)
    expect(ending.code).toBe(4401)
  })
})
