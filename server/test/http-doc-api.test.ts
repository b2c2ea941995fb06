import { digestOfDoc, encodeSyncStep1, encodeSyncUpdate } from '@rhizome/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalog } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { httpRequest } from './support/httpRequest.js'
import { signToken } from './support/tokens.js'
import { WireClient } from './support/WireClient.js'

afterAll(stopAllRelays)

/** A Yjs update that inserts `text` into the text `t` of a fresh document. */
function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** The text `t` of the document an update describes. */
function textOf(update: Uint8Array): string {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc.getText('t').toString()
}

describe('HTTP document API, anonymous loopback relay', () => {
  let relay: RelayProcess
  beforeAll(async () => {
    relay = await startRelay({ args: ['--max-message-bytes', '4096'] })
  })

  it('answers 404 for an unknown document, and serves a posted one as one Yjs update', async () => {
    const unknown = await httpRequest(relay.port, 'GET', '/docs/never/written')
    expect(unknown.status).toBe(404)
    expect(unknown.json()).toEqual({ error: 'NOT_FOUND' })

    const posted = await httpRequest(relay.port, 'POST', '/docs/api/plain', { body: textUpdate('via http') })
    expect(posted.status).toBe(200)
    expect(posted.json()).toEqual({ copies: 1 })

    const read = await httpRequest(relay.port, 'GET', '/docs/api/plain')
    expect(read.status).toBe(200)
    expect(read.headers['content-type']).toBe('application/octet-stream')
    expect(textOf(read.body)).toBe('via http')
    const head = await httpRequest(relay.port, 'HEAD', '/docs/api/plain')
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String(read.body.length))

    // A socket on the same document sees the posted content, and the catalog lists it.
    const socket = await WireClient.open(relay.url, 'api/plain')
    socket.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    const step2 = await socket.waitFor('sync-step2')
    expect(textOf(step2.update)).toBe('via http')
    socket.close()
    expect((await catalog(relay.httpUrl)).has('api/plain')).toBe(true)
  })

  it('reads a document that is loaded in memory, with edits a socket made a moment ago', async () => {
    const writer = await WireClient.open(relay.url, 'api/live')
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'live edit')
    writer.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
    await writer.waitFor('ack')
    const read = await httpRequest(relay.port, 'GET', '/docs/api/live')
    expect(read.status).toBe(200)
    expect(textOf(read.body)).toBe('live edit')
    // A POST merges (a CRDT merge, never a replace): the socket receives it, both edits stay.
    const other = new Y.Doc()
    Y.applyUpdate(other, read.body)
    other.getText('t').insert(0, '>> ')
    const post = await httpRequest(relay.port, 'POST', '/docs/api/live', {
      body: Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc)),
    })
    expect(post.status).toBe(200)
    await eventually(
      () => {
        for (const m of writer.messages) if (m?.type === 'sync-update') Y.applyUpdate(doc, m.update)
        return doc.getText('t').toString() === '>> live edit'
      },
      { what: 'the posted edit on the socket' },
    )
    expect(textOf((await httpRequest(relay.port, 'GET', '/docs/api/live')).body)).toBe('>> live edit')
    writer.close()
  })

  it('refuses a body Yjs cannot apply with 400 and stores nothing of it', async () => {
    await httpRequest(relay.port, 'POST', '/docs/api/kept', { body: textUpdate('kept') })
    const before = await catalog(relay.httpUrl)
    const valid = textUpdate('truncated')
    for (const body of [
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      valid.subarray(0, valid.length - 3),
      new Uint8Array(),
    ]) {
      for (const name of ['api/kept', 'api/garbage-only']) {
        const res = await httpRequest(relay.port, 'POST', `/docs/${name}`, { body })
        expect(res.status, `${body.length} bytes to ${name}`).toBe(400)
        expect(res.json().error).toBe('PROTOCOL_MALFORMED')
      }
    }
    const after = await catalog(relay.httpUrl)
    expect(after).toEqual(before)
    expect(after.has('api/garbage-only')).toBe(false)
    expect((await httpRequest(relay.port, 'GET', '/docs/api/garbage-only')).status).toBe(404)
    expect(textOf((await httpRequest(relay.port, 'GET', '/docs/api/kept')).body)).toBe('kept')
  })

  it('answers 413 over --max-message-bytes, with or without Content-Length, and stores nothing', async () => {
    const big = textUpdate('x'.repeat(8192))
    const declared = await httpRequest(relay.port, 'POST', '/docs/api/big', { body: big })
    expect(declared.status).toBe(413)
    expect(declared.json().error).toBe('PROTOCOL_TOO_LARGE')
    const chunked = await httpRequest(relay.port, 'POST', '/docs/api/big', { body: big, chunkBytes: 1024 })
    expect(chunked.status).toBe(413)
    expect((await httpRequest(relay.port, 'GET', '/docs/api/big')).status).toBe(404)
    // Up to the limit is fine.
    const fits = await httpRequest(relay.port, 'POST', '/docs/api/big', {
      body: textUpdate('x'.repeat(3000)),
    })
    expect(fits.status).toBe(200)
  })

  it('answers 405 with Allow for other methods, and keeps /docs as the catalog', async () => {
    // DELETE deletes the document (section 9, tested in tombstones.test.ts).
    for (const method of ['PUT', 'PATCH']) {
      const res = await httpRequest(relay.port, method, '/docs/api/plain', { body: 'x' })
      expect(res.status, method).toBe(405)
      expect(res.headers.allow).toBe('GET, HEAD, POST, DELETE')
    }
    const catalogPost = await httpRequest(relay.port, 'POST', '/docs', { body: 'x' })
    expect(catalogPost.status).toBe(405)
    expect(catalogPost.headers.allow).toBe('GET')
    const page = await httpRequest(relay.port, 'GET', '/docs?limit=1')
    expect(page.status).toBe(200)
    expect(page.json()).toHaveProperty('next')
  })

  it('checks names on the raw target exactly as sockets do: 400, never another document', async () => {
    await httpRequest(relay.port, 'POST', '/docs/b', { body: textUpdate('b') })
    for (const path of [
      '/docs/a/%2e%2e/b',
      '/docs/a/../b',
      '/docs/_mesh',
      '/docs/.x',
      '/docs/',
      '/docs/a%zz',
      '/docs/a//b',
    ]) {
      const res = await httpRequest(relay.port, 'GET', path)
      expect(res.status, path).toBe(400)
      expect(res.json().error).toBe('DOC_NAME_INVALID')
    }
    // Percent-encoded valid characters decode as for sockets.
    await httpRequest(relay.port, 'POST', '/docs/team%2Fnotes%3A1', { body: textUpdate('encoded') })
    expect(textOf((await httpRequest(relay.port, 'GET', '/docs/team/notes:1')).body)).toBe('encoded')
  })

  it('answers 404 HISTORY_UNAVAILABLE for ?at= before --history-ms, 400 for a bad or future TIME or copies', async () => {
    // More than the default 30 days ago.
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString()
    const at = await httpRequest(relay.port, 'GET', `/docs/api/plain?at=${old}`)
    expect(at.status).toBe(404)
    expect(at.json().error).toBe('HISTORY_UNAVAILABLE')
    expect((await httpRequest(relay.port, 'GET', '/docs/api/plain?at=yesterday')).status).toBe(400)
    const future = await httpRequest(relay.port, 'GET', `/docs/api/plain?at=${Date.now() + 3_600_000}`)
    expect(future.status).toBe(400)
    expect(future.json().error).toBe('USAGE')
    for (const copies of ['0', '-1', 'two', '1.5']) {
      const res = await httpRequest(relay.port, 'POST', `/docs/api/plain?copies=${copies}`, {
        body: textUpdate('c'),
      })
      expect(res.status, copies).toBe(400)
    }
  })
})

describe('HTTP document API with --auth-secret', () => {
  const SECRET = 'http-api-secret-4e1f0b9a77'
  let relay: RelayProcess
  beforeAll(async () => {
    relay = await startRelay({ args: ['--auth-secret', SECRET], meshSecret: null })
  })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  it('needs a token granting the document: read for GET, write for POST (401/403)', async () => {
    const write = await signToken(SECRET, { docs: ['team/**'], access: 'write' })
    const read = await signToken(SECRET, { docs: ['team/**'], access: 'read' })
    const elsewhere = await signToken(SECRET, { docs: ['other/**'], access: 'admin' })
    const forged = await signToken('not-the-relay-secret-at-all', { docs: ['**'], access: 'admin' })
    const body = textUpdate('secret plan')

    const anonymous = await httpRequest(relay.port, 'POST', '/docs/team/plan', { body })
    expect(anonymous.status).toBe(401)
    expect(anonymous.json().error).toBe('AUTH_INVALID')
    expect(
      (await httpRequest(relay.port, 'POST', '/docs/team/plan', { body, headers: bearer(forged) })).status,
    ).toBe(401)
    const readOnly = await httpRequest(relay.port, 'POST', '/docs/team/plan', { body, headers: bearer(read) })
    expect(readOnly.status).toBe(403)
    expect(readOnly.json().error).toBe('AUTH_FORBIDDEN')
    expect(
      (await httpRequest(relay.port, 'POST', '/docs/team/plan', { body, headers: bearer(elsewhere) })).status,
    ).toBe(403)
    expect((await httpRequest(relay.port, 'GET', '/docs/team/plan', { headers: bearer(read) })).status).toBe(
      404,
    )

    const ok = await httpRequest(relay.port, 'POST', '/docs/team/plan', { body, headers: bearer(write) })
    expect(ok.status).toBe(200)
    expect((await httpRequest(relay.port, 'GET', '/docs/team/plan')).status).toBe(401)
    expect(
      (await httpRequest(relay.port, 'GET', '/docs/team/plan', { headers: bearer(elsewhere) })).status,
    ).toBe(403)
    const got = await httpRequest(relay.port, 'GET', '/docs/team/plan', { headers: bearer(read) })
    expect(got.status).toBe(200)
    expect(textOf(got.body)).toBe('secret plan')
    // Auth comes before anything of the document: an unknown document and a bad body look alike.
    expect((await httpRequest(relay.port, 'GET', '/docs/team/none')).status).toBe(401)
    expect((await httpRequest(relay.port, 'POST', '/docs/team/x', { body: 'garbage' })).status).toBe(401)
  })
})

describe('HTTP document API copies on a three-relay mesh', () => {
  it('waits for ?copies=3, and answers 504 with the copies reached once a peer is gone', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    const c = await startRelay({ peers: [a.url, b.url] })
    // Every link has finished a catalog round with `a`: from then on their acks count as copies.
    const roundsWith = async (relay: RelayProcess, peer: string) => {
      const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text()
      return new RegExp(`rhizome_anti_entropy_rounds_total\\{peer="${peer}"\\} [1-9]`).test(metrics)
    }
    await eventually(async () => (await roundsWith(b, a.id)) && (await roundsWith(c, a.id)), {
      what: 'b and c pulled the catalog of a',
      timeout: 30_000,
    })
    const three = await eventually(
      async () => {
        const res = await httpRequest(a.port, 'POST', '/docs/mesh/doc?copies=3', {
          body: textUpdate('everywhere'),
        })
        return res.status === 200 ? res : null
      },
      { what: 'a POST durable on three relays', timeout: 40_000 },
    )
    expect(three.json()).toEqual({ copies: 3 })
    for (const relay of [b, c]) {
      const read = await httpRequest(relay.port, 'GET', '/docs/mesh/doc')
      expect(read.status).toBe(200)
      expect(textOf(read.body)).toBe('everywhere')
    }
    const onA = await httpRequest(a.port, 'GET', '/docs/mesh/doc')
    const docA = new Y.Doc()
    Y.applyUpdate(docA, onA.body)
    const docC = new Y.Doc()
    Y.applyUpdate(docC, (await httpRequest(c.port, 'GET', '/docs/mesh/doc')).body)
    expect(digestOfDoc(docC)).toBe(digestOfDoc(docA))

    await c.kill()
    const started = Date.now()
    const timedOut = await httpRequest(a.port, 'POST', '/docs/mesh/doc?copies=3', {
      body: textUpdate('two only'),
    })
    const waited = Date.now() - started
    expect(timedOut.status).toBe(504)
    expect(timedOut.json()).toEqual({ copies: 2 })
    expect(waited).toBeGreaterThanOrEqual(9_500)
    expect(waited).toBeLessThan(15_000)
  }, 90_000)
})
