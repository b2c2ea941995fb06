import { digestOfUpdate } from '@rhizome/protocol'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { catalogDigests, DocWriter, killAdminRuns, runAdmin } from './adminSupport.js'
import { httpRequest } from './support/httpRequest.js'
import { SyncSocket } from './support/SyncSocket.js'
import { signToken } from './support/tokens.js'

afterEach(killAdminRuns)
afterAll(stopAllRelays)

/** The text `t` of the document an update describes. */
function textOf(update: Uint8Array): string {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc.getText('t').toString()
}

/**
 * Now, once the clock has moved past it: whatever happens after this returns is received strictly
 * later, so the state at the returned moment excludes it (history is exact to the millisecond).
 */
async function moment(): Promise<number> {
  const at = Date.now()
  await eventually(() => Date.now() > at, { interval: 1, what: 'the next millisecond' })
  return at
}

describe('history over HTTP (docs/PROTOCOL.md section 10)', () => {
  let relay: RelayProcess
  beforeAll(async () => {
    relay = await startRelay()
  })

  it('serves ?at=TIME exactly per millisecond, ?history=1 restore points, and ?revert=TIME', async () => {
    const writer = await SyncSocket.open(relay.url, 'h/one')
    const change = async (edit: (text: Y.Text) => void) => {
      edit(writer.doc.getText('t'))
      const n = writer.sent
      await eventually(() => writer.acked(n), { what: `ACK ${n}` })
    }
    await change((t) => t.insert(0, 'first'))
    const t1 = await moment()
    await change((t) => t.insert(5, ' second'))
    const t2 = await moment()
    await change((t) => t.delete(0, 12))
    expect(writer.doc.getText('t').toString()).toBe('')

    // The document is loaded (a socket is on it): the answers cover what it applied.
    const at1 = await httpRequest(relay.port, 'GET', `/docs/h/one?at=${t1}`)
    expect(at1.status).toBe(200)
    expect(textOf(at1.body)).toBe('first')
    const at2 = await httpRequest(relay.port, 'GET', `/docs/h/one?at=${new Date(t2).toISOString()}`)
    expect(textOf(at2.body)).toBe('first second')
    // Before the document existed: an empty document, not an error.
    const before = await httpRequest(relay.port, 'GET', `/docs/h/one?at=${t1 - 60_000}`)
    expect(before.status).toBe(200)
    expect(textOf(before.body)).toBe('')

    const history = await httpRequest(relay.port, 'GET', '/docs/h/one?history=1')
    expect(history.status).toBe(200)
    const { doc, points } = history.json() as { doc: string; points: { at: number; bytes: number }[] }
    expect(doc).toBe('h/one')
    expect(points.length).toBeGreaterThanOrEqual(1)
    expect(points[0]!.at).toBeGreaterThan(t2)
    expect(points.every((p, i) => i === 0 || p.at < points[i - 1]!.at)).toBe(true)

    // The revert reaches the socket on the document like any edit, and is stored.
    const reverted = await httpRequest(relay.port, 'POST', `/docs/h/one?revert=${t1}`)
    expect(reverted.status).toBe(200)
    expect(reverted.json()).toEqual({ copies: 1 })
    await eventually(() => writer.doc.getText('t').toString() === 'first', {
      what: 'the revert on the socket',
    })
    expect(textOf((await httpRequest(relay.port, 'GET', '/docs/h/one')).body)).toBe('first')
    writer.close()
  })

  it('answers 404 for unknown documents and 400 for malformed or future times, changing nothing', async () => {
    for (const path of ['/docs/h/none?at=1', '/docs/h/none?history=1']) {
      const res = await httpRequest(relay.port, 'GET', path)
      expect(res.status, path).toBe(404)
      expect(res.json().error).toBe('NOT_FOUND')
    }
    const unknown = await httpRequest(relay.port, 'POST', `/docs/h/none?revert=${Date.now() - 1}`)
    expect(unknown.status).toBe(404)
    // Nothing was created by asking.
    expect((await httpRequest(relay.port, 'GET', '/docs/h/none')).status).toBe(404)

    await httpRequest(relay.port, 'POST', '/docs/h/two', { body: Y.encodeStateAsUpdate(textDoc('kept')) })
    const digest = (await catalogDigests(relay.httpUrl)).get('h/two')
    for (const time of ['yesterday', '2026-13-45T00:00:00Z', '', `${Date.now() + 3_600_000}`]) {
      const res = await httpRequest(relay.port, 'POST', `/docs/h/two?revert=${encodeURIComponent(time)}`)
      expect(res.status, time).toBe(400)
      expect(res.json().error).toBe('USAGE')
    }
    expect((await catalogDigests(relay.httpUrl)).get('h/two')).toBe(digest)
  })
})

function textDoc(text: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return doc
}

describe('history tokens', () => {
  it('reads history with a read token; a revert needs write (403 otherwise)', async () => {
    const SECRET = 'history-api-secret-5c2d81'
    const relay = await startRelay({ args: ['--auth-secret', SECRET], meshSecret: null })
    const write = await signToken(SECRET, { docs: ['team/**'], access: 'write' })
    const read = await signToken(SECRET, { docs: ['team/**'], access: 'read' })
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const body = Y.encodeStateAsUpdate(textDoc('plan'))
    expect(
      (await httpRequest(relay.port, 'POST', '/docs/team/p', { body, headers: bearer(write) })).status,
    ).toBe(200)
    const t = await moment()

    expect((await httpRequest(relay.port, 'GET', `/docs/team/p?at=${t}`)).status).toBe(401)
    expect(
      (await httpRequest(relay.port, 'GET', `/docs/team/p?at=${t}`, { headers: bearer(read) })).status,
    ).toBe(200)
    expect(
      (await httpRequest(relay.port, 'GET', '/docs/team/p?history=1', { headers: bearer(read) })).status,
    ).toBe(200)
    const refused = await httpRequest(relay.port, 'POST', `/docs/team/p?revert=${t}`, {
      headers: bearer(read),
    })
    expect(refused.status).toBe(403)
    expect(refused.json().error).toBe('AUTH_FORBIDDEN')
    const ok = await httpRequest(relay.port, 'POST', `/docs/team/p?revert=${t}`, { headers: bearer(write) })
    expect(ok.status).toBe(200)

    // The CLI passes the token through.
    const cli = await runAdmin(['history', relay.url, 'team/p', '--token', read])
    expect(cli.code, cli.stderr).toBe(0)
    const denied = await runAdmin(['revert', relay.url, 'team/p', '--to', String(t), '--token', read])
    expect(denied.code).toBe(2)
    expect(denied.stderr).toMatch(/AUTH_FORBIDDEN/)
  })
})

describe('rhizome history / export --at / revert: bad input', () => {
  const HISTORY_MS = 60_000
  let relay: RelayProcess
  let digest: string | null | undefined
  let writtenAt: number
  beforeAll(async () => {
    relay = await startRelay({ args: ['--history-ms', String(HISTORY_MS)] })
    const writer = await DocWriter.open(relay.url, 'notes/bad')
    await writer.change((d) => d.getText('t').insert(0, 'unchanged'))
    writer.close()
    writtenAt = await moment()
    digest = (await catalogDigests(relay.httpUrl)).get('notes/bad')
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
  })

  const cases: [string, () => string[], RegExp][] = [
    [
      '--to in the future',
      () => ['revert', relay.url, 'notes/bad', '--to', '2999-01-01T00:00:00Z'],
      /in the future/,
    ],
    [
      '--to before --history-ms',
      () => ['revert', relay.url, 'notes/bad', '--to', String(Date.now() - 2 * HISTORY_MS)],
      /older than the history kept/,
    ],
    [
      'a malformed --to',
      () => ['revert', relay.url, 'notes/bad', '--to', 'last tuesday'],
      /--to must be ISO 8601/,
    ],
    [
      'a malformed ISO --to',
      () => ['revert', relay.url, 'notes/bad', '--to', '2026-02-30Tnoon'],
      /--to must be/,
    ],
    ['no --to', () => ['revert', relay.url, 'notes/bad'], /--to is required/],
    [
      'an unknown document',
      () => ['revert', relay.url, 'notes/none', '--to', String(writtenAt)],
      /no such document/,
    ],
    [
      'an invalid name',
      () => ['revert', relay.url, '../x', '--to', String(writtenAt)],
      /invalid document name/,
    ],
    ['history of an unknown document', () => ['history', relay.url, 'notes/none'], /no such document/],
    [
      'export --at before --history-ms',
      () => ['export', relay.url, 'notes/bad', '--at', String(Date.now() - 2 * HISTORY_MS)],
      /older than the history kept/,
    ],
    [
      'export --at in the future',
      () => ['export', relay.url, 'notes/bad', '--at', '2999-01-01T00:00:00Z'],
      /future/,
    ],
    [
      'export --at malformed',
      () => ['export', relay.url, 'notes/bad', '--at', 'now'],
      /--at must be ISO 8601/,
    ],
    [
      'export --at an unknown document',
      () => ['export', relay.url, 'notes/none', '--at', String(writtenAt)],
      /no such/,
    ],
  ]
  it('exits 2 with one line naming the problem for each bad input, and nothing changes', async () => {
    // Run side by side: each is a process of its own, and none may change anything.
    const runs = await Promise.all(cases.map(([, args]) => runAdmin(args())))
    runs.forEach((run, i) => {
      const [what, , message] = cases[i]!
      expect(run.code, `${what}: ${run.stderr}`).toBe(2)
      expect(run.stdout.length, what).toBe(0)
      expect(run.stderr.trimEnd().split('\n'), what).toHaveLength(1)
      expect(run.stderr, what).toMatch(message)
    })
    const after = await catalogDigests(relay.httpUrl)
    expect(after.get('notes/bad')).toBe(digest)
    expect(after.has('notes/none')).toBe(false)
  })

  it('lists restore points, exports --at and reverts within the window', async () => {
    const history = await runAdmin(['history', relay.httpUrl, 'notes/bad'])
    expect(history.code, history.stderr).toBe(0)
    const lines = history.stdout.toString().trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    const [time, bytes] = lines[0]!.split('\t')
    expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    expect(Number(bytes)).toBeGreaterThan(0)

    // Exporting at the restore point itself gives the document as it is (nothing came later).
    const exported = await runAdmin(['export', relay.url, 'notes/bad', '--at', time!])
    expect(exported.code, exported.stderr).toBe(0)
    expect(digestOfUpdate(exported.stdout)).toBe(digest)

    // Reverting to the latest moment changes nothing: the digest stays.
    const noop = await runAdmin(['revert', relay.url, 'notes/bad', '--to', String(writtenAt)])
    expect(noop.code, noop.stderr).toBe(0)
    expect(noop.stdout.toString()).toMatch(/durable on 1 relay/)
    expect((await catalogDigests(relay.httpUrl)).get('notes/bad')).toBe(digest)
  })

  it('prints usage for --help of each history command', async () => {
    const top = await runAdmin(['--help'])
    expect(top.code).toBe(0)
    for (const command of ['history URL DOC', 'revert URL DOC --to TIME', '--at TIME'])
      expect(top.stdout.toString()).toContain(command)
    const expected = [
      ['history', 'Usage: rhizome history URL DOC'],
      ['revert', 'Usage: rhizome revert URL DOC --to TIME'],
      ['export', '--at TIME'],
    ] as const
    const helps = await Promise.all(expected.map(([command]) => runAdmin([command, '--help'])))
    helps.forEach((help, i) => {
      expect(help.code).toBe(0)
      expect(help.stdout.toString()).toContain(expected[i]![1])
    })
  })
})
