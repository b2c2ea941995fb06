import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeSyncStep1, encodeSyncUpdate, isRhizomeError } from '@rhizome/protocol'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { TEST_MESH_SECRET } from '../../test/support/meshSecret.js'
import { eventually } from '../../test/support/poll.mjs'
import { RELAY_CLI } from '../../test/support/relays.js'
import type { ChangeEvent } from '../src/changes/changeOrigin.js'
import type { AuthenticateRequest } from '../src/connections/Authorizer.js'
import { parseRelayOptions } from '../src/options.js'
import { type RunningRelay, type StartRelayOptions, startRelay } from '../src/startRelay.js'
import { httpRequest } from './support/httpRequest.js'
import { WireClient } from './support/WireClient.js'

const dirs: string[] = []
const relays: RunningRelay[] = []
const sockets: WireClient[] = []

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-embed-'))
  dirs.push(dir)
  return dir
}

/** An in-process relay on a free port with a fresh data directory, closed after each test. */
async function relay(options: StartRelayOptions = {}): Promise<RunningRelay> {
  const started = await startRelay({ port: 0, data: await dataDir(), logLevel: 'silent', ...options })
  relays.push(started)
  return started
}

async function socket(url: string, name: string, token?: string): Promise<WireClient> {
  const client = new WireClient(url, name, token === undefined ? {} : { token })
  sockets.push(client)
  await client.opened
  return client
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close()
  await Promise.all(relays.splice(0).map((r) => r.close()))
})
afterAll(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

function textOf(update: Uint8Array): string {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc.getText('t').toString()
}

const authError = (code: string, message: string) => Object.assign(new Error(message), { code })

describe('authenticate hook', () => {
  const calls: AuthenticateRequest[] = []
  /** Tokens of this app: the hook replaces JWT checks entirely. */
  const authenticate = async (request: AuthenticateRequest) => {
    calls.push(request)
    const { token, doc } = request
    if (token === null) throw authError('AUTH_INVALID', 'sign in first')
    if (token === 'boom') throw new Error('session database is down: postgres://internal:5432')
    if (token === 'sync-throw') throw 42
    if (token === 'nonsense') return 'root' as 'read'
    if (doc?.startsWith('secret/')) throw authError('AUTH_FORBIDDEN', 'not your document')
    if (token === 'reader') return 'read'
    if (token === 'admin') return 'admin'
    return 'write'
  }

  it('opens, refuses (4401/4403) and limits document sockets, and the relay keeps serving', async () => {
    const r = await relay({ authenticate })
    const refusals: [string, string | undefined, number][] = [
      ['notes/a', undefined, 4401],
      ['notes/a', 'boom', 4401],
      ['notes/a', 'sync-throw', 4401],
      ['notes/a', 'nonsense', 4401],
      ['secret/plan', 'writer', 4403],
    ]
    for (const [name, token, code] of refusals) {
      const s = await socket(r.url, name, token)
      const end = await s.waitEnd()
      expect(end.code, `${name} with ${token}`).toBe(code)
      expect(s.messages.some((m) => m?.type === 'sync-step1' || m?.type === 'sync-step2')).toBe(false)
    }
    // The hook's own message for a deliberate refusal; a generic one when the hook failed.
    expect((await sockets[0]!.ending).reason).toBe('sign in first')
    expect((await sockets[1]!.ending).reason).toBe('authentication failed')

    const writer = await socket(r.url, 'notes/a', 'writer')
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'written')
    writer.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
    expect((await writer.waitFor('ack')).copies).toBe(1)

    const reader = await socket(r.url, 'notes/a', 'reader')
    reader.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    expect(textOf((await reader.waitFor('sync-step2')).update)).toBe('written')
    reader.send(encodeSyncUpdate(textUpdate('not allowed')))
    expect((await reader.waitEnd()).code).toBe(4403)

    const seen = calls.find((c) => c.token === 'writer' && c.doc === 'notes/a')
    expect(seen?.request.url).toContain('/notes/a')
    expect(seen?.request.headers.host).toBeDefined()
  })

  it('guards the HTTP API (401/403) and the admin endpoints (doc null, admin needed)', async () => {
    const r = await relay({ authenticate })
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const body = textUpdate('over http')
    expect((await httpRequest(r.port, 'POST', '/docs/notes/h', { body })).status).toBe(401)
    expect(
      (await httpRequest(r.port, 'POST', '/docs/notes/h', { body, headers: bearer('boom') })).status,
    ).toBe(401)
    expect(
      (await httpRequest(r.port, 'POST', '/docs/notes/h', { body, headers: bearer('reader') })).status,
    ).toBe(403)
    expect(
      (await httpRequest(r.port, 'POST', '/docs/secret/h', { body, headers: bearer('writer') })).status,
    ).toBe(403)
    const ok = await httpRequest(r.port, 'POST', '/docs/notes/h', { body, headers: bearer('writer') })
    expect(ok.status).toBe(200)
    expect(ok.json()).toEqual({ copies: 1 })
    const read = await httpRequest(r.port, 'GET', '/docs/notes/h', { headers: bearer('reader') })
    expect(textOf(read.body)).toBe('over http')
    expect(calls.some((c) => c.token === 'reader' && c.doc === 'notes/h')).toBe(true)

    expect((await httpRequest(r.port, 'GET', '/docs', { headers: bearer('writer') })).status).toBe(403)
    expect((await httpRequest(r.port, 'GET', '/metrics')).status).toBe(401)
    const list = await httpRequest(r.port, 'GET', '/docs', { headers: bearer('admin') })
    expect(list.status).toBe(200)
    expect(list.json().docs).toEqual([expect.objectContaining({ name: 'notes/h' })])
    expect(calls.some((c) => c.token === 'admin' && c.doc === null)).toBe(true)
  })
})

describe('onChange hook', () => {
  it('reports client, http and peer changes once durable, with the update that made them', async () => {
    const changes: ChangeEvent[] = []
    const a = await relay({ meshSecret: TEST_MESH_SECRET, onChange: (e) => void changes.push(e) })
    const b = await relay({ meshSecret: TEST_MESH_SECRET, peers: [a.url] })

    const writer = await socket(a.url, 'changes/socket')
    writer.send(encodeSyncUpdate(textUpdate('from a socket')))
    await writer.waitFor('ack')
    const posted = await httpRequest(a.port, 'POST', '/docs/changes/http', { body: textUpdate('from http') })
    expect(posted.status).toBe(200)
    const onB = await socket(b.url, 'changes/peer')
    onB.send(encodeSyncUpdate(textUpdate('from a peer')))
    await onB.waitFor('ack')

    const byDoc = await eventually(
      () => {
        const m = new Map(changes.map((c) => [c.doc, c]))
        return m.size === 3 ? m : null
      },
      { what: 'three changes reported on a' },
    )
    expect(byDoc.get('changes/socket')?.origin).toBe('client')
    expect(byDoc.get('changes/http')?.origin).toBe('http')
    expect(byDoc.get('changes/peer')?.origin).toBe('peer')
    expect(textOf(byDoc.get('changes/socket')!.update)).toBe('from a socket')
    expect(textOf(byDoc.get('changes/peer')!.update)).toBe('from a peer')
  })

  it('never breaks or delays the relay when it throws, rejects or never resolves', async () => {
    let calls = 0
    const r = await relay({
      onChange: ({ doc }) => {
        calls++
        if (doc === 'hook/throws') throw new Error('hook bug')
        if (doc === 'hook/rejects') return Promise.reject(new Error('async hook bug'))
        return new Promise(() => {}) // a hook that never finishes
      },
    })
    for (const name of ['hook/throws', 'hook/rejects', 'hook/hangs']) {
      const s = await socket(r.url, name)
      for (let i = 0; i < 20; i++) {
        const started = performance.now()
        s.send(encodeSyncUpdate(textUpdate(`${name} ${i}`)))
        await eventually(() => s.acks.length === i + 1, { what: `ACK ${i + 1} on ${name}`, interval: 2 })
        expect(performance.now() - started).toBeLessThan(1000)
      }
      expect(s.ended).toBeNull()
    }
    await eventually(() => calls >= 60, { what: 'every change reached the hook' })
    const post = await httpRequest(r.port, 'POST', '/docs/hook/throws', { body: textUpdate('still serving') })
    expect(post.status).toBe(200)
  })
})

describe('startRelay options', () => {
  /** What the CLI prints (without the `rhizome-relay: ` prefix) for the same options. */
  function cliError(args: string[]): Promise<string> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [RELAY_CLI, ...args],
        { env: { ...process.env, RHIZOME_LOG_LEVEL: 'silent' } },
        (_e, _out, stderr) => resolve(stderr.trim().replace(/^rhizome-relay: /, '')),
      )
    })
  }

  async function usageMessage(options: StartRelayOptions): Promise<string> {
    try {
      await relay(options)
    } catch (err) {
      if (isRhizomeError(err, 'USAGE')) return err.message
      throw err
    }
    throw new Error(`startRelay accepted ${JSON.stringify(options)}`)
  }

  it.concurrent.each<[string, StartRelayOptions, string[]]>([
    ['a port that is not a number', { port: Number.NaN }, ['--port', 'NaN']],
    ['a port out of range', { port: 70_000 }, ['--port', '70000']],
    ['an unknown option', { bogus: 1 } as StartRelayOptions, ['--bogus']],
    ['peers without a mesh secret', { peers: ['ws://127.0.0.1:1'] }, ['--peers', 'ws://127.0.0.1:1']],
    [
      'a peer that is not ws://',
      { peers: ['http://127.0.0.1:1'], meshSecret: TEST_MESH_SECRET },
      ['--peers', 'http://127.0.0.1:1', '--mesh-secret', TEST_MESH_SECRET],
    ],
    ['a short auth secret', { authSecret: 'short' }, ['--auth-secret', 'short']],
    [
      'a webhook without a secret',
      { webhook: 'http://127.0.0.1:1/hook' },
      ['--webhook', 'http://127.0.0.1:1/hook'],
    ],
    [
      'a webhook that is not http',
      { webhook: 'ftp://127.0.0.1/x', webhookSecret: 'w'.repeat(16) },
      ['--webhook', 'ftp://127.0.0.1/x', '--webhook-secret', 'w'.repeat(16)],
    ],
    [
      'a short webhook secret',
      { webhook: 'http://127.0.0.1:1/', webhookSecret: 'short' },
      ['--webhook', 'http://127.0.0.1:1/', '--webhook-secret', 'short'],
    ],
    ['a public interface without auth', { host: '0.0.0.0' }, ['--host', '0.0.0.0']],
    ['an unknown log level', { logLevel: 'loud' }, ['--log-level', 'loud']],
  ])('refuses %s with the CLI message (RhizomeError USAGE)', async (_what, options, args) => {
    const [message, cli] = await Promise.all([usageMessage(options), cliError(['--port', '0', ...args])])
    expect(message).toBe(cli)
    expect(message.length).toBeGreaterThan(0)
  })

  it('refuses peers that are not an array, and hooks that are not functions', async () => {
    const peers = await usageMessage({
      peers: 'ws://127.0.0.1:1' as unknown as string[],
      meshSecret: TEST_MESH_SECRET,
    })
    expect(peers).toContain('--peers')
    await expect(relay({ authenticate: 'yes' as never })).rejects.toBeInstanceOf(TypeError)
    await expect(relay({ onChange: {} as never })).rejects.toBeInstanceOf(TypeError)
  })

  it('accepts a non-loopback host without --auth-secret when an authenticate hook checks clients', () => {
    expect(() => parseRelayOptions(['--host', '0.0.0.0'], {})).toThrow(/--host/)
    expect(parseRelayOptions(['--host', '0.0.0.0'], {}, { authenticate: true }).host).toBe('0.0.0.0')
  })

  it('refuses a data directory in use and a port in use (USAGE), and releases the directory', async () => {
    const data = await dataDir()
    const first = await relay({ data })
    expect(first.url).toBe(`ws://127.0.0.1:${first.port}`)
    expect(first.id).toMatch(/^relay-/)
    expect(await usageMessage({ data })).toMatch(/--data .* is in use/)
    await first.close()
    await first.close() // idempotent

    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const taken = (blocker.address() as { port: number }).port
    try {
      expect(await usageMessage({ data, port: taken })).toBe('--port/--host: cannot listen (EADDRINUSE)')
    } finally {
      blocker.close()
    }
    // The failed start closed the store: the directory opens again, with the same id.
    const again = await relay({ data })
    expect(again.id).toBe(first.id)
  })
})
