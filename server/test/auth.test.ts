import { createHmac } from 'node:crypto'
import {
  decodeMeshMessage,
  digestOfDoc,
  encodeMeshMessage,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  MESH_PROTOCOL_VERSION,
} from '@rhizome/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { eventually, type RelayProcess, stopAllRelays } from '../../test/support/relays.js'
import { catalog } from './support/catalog.js'
import { auditedOutput, auditedRelay, leakedSecrets, secret } from './support/logAudit.js'
import { stockProvider, whenClosed, whenSynced } from './support/providers.js'
import { signToken, unsignedToken } from './support/tokens.js'
import { WireClient } from './support/WireClient.js'

const SECRET = secret('auth-secret-5f0c9d2e-never-log-me')
const OTHER_SECRET = secret('some-other-secret-7a1b3c-never-log-me')

let relay: RelayProcess
let admin: string
const tokens: Record<string, string> = {}

async function token(spec: Parameters<typeof signToken>[1], key: string = SECRET): Promise<string> {
  return secret(await signToken(key, spec))
}

beforeAll(async () => {
  // No mesh secret: the mesh endpoint test below checks what such a relay does with /_mesh.
  relay = await auditedRelay({ args: ['--auth-secret', SECRET], env: { RHIZOME_MESH_SECRET: '' } })
  admin = await token({ docs: ['**'], access: 'admin', sub: 'root' })
  tokens.read = await token({ docs: ['team/**'], access: 'read', sub: 'reader' })
  tokens.write = await token({ docs: ['team/**'], access: 'write', sub: 'writer' })
  tokens.oneStar = await token({ docs: ['team/*'], access: 'write' })
  tokens.twoStars = await token({ docs: ['team/**'], access: 'write' })

  // Seed a document through an admin socket, so refused sockets have something they must not see.
  const writer = await WireClient.open(relay.url, 'team/plan', { token: admin })
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'confidential plan')
  writer.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
  await writer.waitFor('ack')
  writer.close()
})

afterAll(async () => {
  // Every log line the relay wrote during this file, at debug level, is free of secrets and tokens.
  expect(auditedOutput()).toContain('refused socket')
  expect(leakedSecrets()).toEqual([])
  await stopAllRelays()
})

/** Opens a raw socket and returns how it ended plus every message it received first. */
async function refused(name: string, tokenValue?: string) {
  const client = new WireClient(relay.url, name, tokenValue === undefined ? {} : { token: tokenValue })
  const end = await client.waitEnd()
  return { end, types: client.messages.map((m) => m?.type) }
}

describe('socket tokens', () => {
  type Case = [string, () => string | undefined | Promise<string>, number]
  it.each<Case>([
    ['no token', () => undefined, 4401],
    ['an empty token', () => '', 4401],
    ['garbage', () => secret('not.a.jwt'), 4401],
    ['a token signed with another key', () => token({ docs: ['**'], access: 'admin' }, OTHER_SECRET), 4401],
    ['an expired token', () => token({ docs: ['**'], access: 'admin', expiresIn: -60 }), 4401],
    ['an unsigned alg=none token', () => secret(unsignedToken()), 4401],
    ['a token without docs', () => token({ access: 'write' }), 4401],
    ['a token with an unknown access', () => token({ docs: ['**'], access: 'owner' }), 4401],
    ['a token for another document', () => token({ docs: ['other/plan'], access: 'admin' }), 4403],
    ['a token for a prefix only', () => token({ docs: ['team/pla'], access: 'admin' }), 4403],
  ])('refuses %s with %i and sends no byte of the document', async (_what, make, code) => {
    const { end, types } = await refused('team/plan', await make())
    expect(end.code).toBe(code)
    // Only the AUTH permission-denied message, never sync or awareness.
    expect(types).toEqual(['auth-denied'])
  })

  it('closes a socket with 4401 when its token expires while it is open', async () => {
    const shortLived = await token({ docs: ['team/**'], access: 'write', expiresIn: 4 })
    const client = await WireClient.open(relay.url, 'team/plan', { token: shortLived })
    await client.waitFor('sync-step1')
    const end = await client.waitEnd(12_000)
    expect(end.code).toBe(4401)
    expect(client.messages.at(-1)?.type).toBe('auth-denied')
  })

  it('makes a stock client stop retrying after 4401', async () => {
    const p = stockProvider(relay.url, 'team/plan')
    const closed = await whenClosed(p)
    expect(closed.code).toBe(4401)
    expect(p.shouldConnect).toBe(false)
    expect(p.doc.getText('t').toString()).toBe('')
  })

  it("'*' matches one segment and '**' any number", async () => {
    for (const [tokenName, name, expected] of [
      ['oneStar', 'team/a', 'open'],
      ['oneStar', 'team/a/b', 4403],
      ['oneStar', 'team', 4403],
      ['twoStars', 'team/a', 'open'],
      ['twoStars', 'team/a/b/c', 'open'],
      ['twoStars', 'teams/a', 4403],
    ] as const) {
      const client = new WireClient(relay.url, name, { token: tokens[tokenName]! })
      if (expected === 'open') {
        await client.waitFor('sync-step1', `${tokenName} opens ${name}`)
        client.close()
      } else {
        expect((await client.waitEnd()).code, `${tokenName} on ${name}`).toBe(expected)
      }
    }
  })

  it('lets a stock client with a read token read, live, while its empty step2 is accepted', async () => {
    const reader = stockProvider(relay.url, 'team/plan', new Y.Doc(), { token: tokens.read! })
    await whenSynced(reader)
    expect(reader.doc.getText('t').toString()).toBe('confidential plan')
    const writer = stockProvider(relay.url, 'team/plan', new Y.Doc(), { token: tokens.write! })
    await whenSynced(writer)
    writer.doc.getText('t').insert(0, 'updated ')
    await eventually(() => reader.doc.getText('t').toString() === 'updated confidential plan', {
      what: 'live update on the reader',
    })
    expect(reader.wsconnected).toBe(true)
    writer.destroy()
    reader.destroy()
  })

  it('closes a read-only socket that writes with 4403 and applies nothing', async () => {
    const before = (await catalog(relay.httpUrl, admin)).get('team/plan')
    const client = await WireClient.open(relay.url, 'team/plan', { token: tokens.read! })
    await client.waitFor('sync-step1')
    // The empty step2 and a step2 with nothing new are accepted.
    client.send(encodeSyncStep2(Y.encodeStateAsUpdate(new Y.Doc())))
    client.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    const step2 = await client.waitFor('sync-step2')
    client.send(encodeSyncStep2(step2.update))
    await eventually(() => client.acks.find((a) => a.n === 2), { what: 'ACK of the harmless step2s' })
    const mine = new Y.Doc()
    Y.applyUpdate(mine, step2.update)
    mine.getText('t').insert(0, 'vandalised ')
    client.send(encodeSyncUpdate(Y.encodeStateAsUpdate(mine)))
    expect((await client.waitEnd()).code).toBe(4403)
    expect(client.messages.some((m) => m?.type === 'auth-denied')).toBe(true)

    expect((await catalog(relay.httpUrl, admin)).get('team/plan')).toEqual(before)
    const check = stockProvider(relay.url, 'team/plan', new Y.Doc(), { token: tokens.read! })
    await whenSynced(check)
    expect(check.doc.getText('t').toString()).not.toContain('vandalised')
    expect(digestOfDoc(check.doc)).toBe(before?.digest)
  })

  it('closes a stock client with a read token and local edits with 4403, nothing applied', async () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'offline edit')
    const p = stockProvider(relay.url, 'team/plan', doc, { token: tokens.read! })
    expect((await whenClosed(p)).code).toBe(4403)
    const check = await WireClient.open(relay.url, 'team/plan', { token: admin })
    check.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    const state = await check.waitFor('sync-step2')
    const got = new Y.Doc()
    Y.applyUpdate(got, state.update)
    expect(got.getText('t').toString()).not.toContain('offline edit')
    check.close()
  })
})

describe('the mesh endpoint', () => {
  it('does not let a peer without a mesh secret around the tokens', async () => {
    // The relay has --auth-secret but no --mesh-secret: a "peer" proving the empty secret must not
    // get the catalog or any document.
    const ws = new WebSocket(`${relay.url}/_mesh`)
    const received: string[] = []
    ws.on('message', (data: Buffer) => {
      try {
        received.push(decodeMeshMessage(new Uint8Array(data)).type)
      } catch {
        received.push('garbage')
      }
    })
    const outcome = await new Promise<string>((resolve) => {
      // Still open after 3 s means the relay took it as a peer.
      setTimeout(() => resolve('still open'), 3000)
      ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`))
      ws.on('close', (code) => resolve(`close ${code}`))
      ws.on('error', () => {})
      ws.on('open', () => {
        const nonce = new Uint8Array(32)
        ws.send(
          encodeMeshMessage({
            type: 'hello',
            version: MESH_PROTOCOL_VERSION,
            relayId: 'intruder',
            storeId: 'intruder-store',
            nonce,
          }),
        )
        ws.on('message', (data: Buffer) => {
          const m = decodeMeshMessage(new Uint8Array(data))
          if (m.type !== 'challenge') return
          const proof = createHmac('sha256', '').update('dialer').update(nonce).update(m.nonce).digest()
          ws.send(encodeMeshMessage({ type: 'proof', proof }))
          ws.send(encodeMeshMessage({ type: 'step1', name: 'team/plan', stateVector: new Uint8Array([0]) }))
        })
      })
    })
    ws.terminate()
    expect(outcome).toBe('http 403')
    expect(received).toEqual([])
  })
})

describe('HTTP endpoints', () => {
  const get = async (path: string, tokenValue?: string) => {
    const res = await fetch(`${relay.httpUrl}${path}`, {
      headers: tokenValue === undefined ? {} : { authorization: `Bearer ${tokenValue}` },
    })
    return { status: res.status, body: await res.text() }
  }

  it('serves /healthz to anyone without revealing document names', async () => {
    const { status, body } = await get('/healthz')
    expect(status).toBe(200)
    expect(JSON.parse(body)).toMatchObject({ ok: true, docs: expect.any(Number), recovering: false })
    expect(body).not.toContain('team/plan')
  })

  it.each(['/docs', '/metrics'])('serves %s only to an admin token', async (path) => {
    expect((await get(path)).status).toBe(401)
    expect((await get(path, 'garbage')).status).toBe(401)
    expect((await get(path, await token({ docs: ['**'], access: 'admin' }, OTHER_SECRET))).status).toBe(401)
    expect((await get(path, await token({ docs: ['**'], access: 'admin', expiresIn: -5 }))).status).toBe(401)
    expect((await get(path, tokens.read)).status).toBe(403)
    expect((await get(path, tokens.write)).status).toBe(403)
    const ok = await get(path, admin)
    expect(ok.status).toBe(200)
    if (path === '/docs')
      expect(JSON.parse(ok.body).docs.map((d: { name: string }) => d.name)).toContain('team/plan')
    else expect(ok.body).toContain('rhizome_connections')
  })
})
