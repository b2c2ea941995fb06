import {
  encodeAck,
  encodeAuthDenied,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncUpdate,
} from '@rhizome/protocol'
import * as encoding from 'lib0/encoding'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalog } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { stockProvider, whenSynced } from './support/providers.js'
import { rawUpgradeStatus } from './support/rawUpgrade.js'
import { WireClient } from './support/WireClient.js'

const frame = (...bytes: number[]) => new Uint8Array(bytes)

function validUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** The relay still serves a stock client on a fresh document. */
async function stillServes(relay: RelayProcess, name: string): Promise<void> {
  const a = stockProvider(relay.url, name)
  const b = stockProvider(relay.url, name)
  await Promise.all([whenSynced(a), whenSynced(b)])
  a.doc.getText('t').insert(0, 'still here')
  await new Promise<void>((resolve) => {
    const check = () => {
      if (b.doc.getText('t').toString() === 'still here') {
        b.doc.off('update', check)
        resolve()
      }
    }
    b.doc.on('update', check)
    check()
  })
  a.destroy()
  b.destroy()
}

describe('close codes on a relay with small limits', () => {
  let relay: RelayProcess
  beforeAll(async () => {
    relay = await startRelay({ args: ['--max-message-bytes', '4096', '--rate-messages', '50'] })
  })
  afterAll(stopAllRelays)

  const malformed: [string, Uint8Array | string][] = [
    ['an unknown message type', frame(7, 1, 2, 3)],
    ['an empty frame', frame()],
    ['a truncated varint', frame(0x80)],
    ['a sync step that does not exist', frame(0, 9, 1, 0)],
    ['a length prefix past the end', frame(0, 2, 0xff, 0xff, 0x03, 1, 2)],
    ['trailing bytes after a valid message', frame(...encodeQueryAwareness(), 0)],
    ['an update Yjs cannot decode', encodeSyncUpdate(frame(0xff, 0xff, 0xff, 0x7f, 1))],
    ['a client-sent ACK', encodeAck(1, 1)],
    ['a client-sent AUTH', encodeAuthDenied('let me in')],
    ['a text frame', 'hello'],
    ['a malformed awareness update', frame(1, 3, 5, 0xff, 0xff)],
  ]

  it.each(malformed)('closes a socket that sends %s with 4400 and stores nothing', async (what, bad) => {
    const name = `cc/${what.replaceAll(' ', '-')}`
    const client = await WireClient.open(relay.url, name)
    await client.waitFor('sync-step1')
    client.send(bad)
    const end = await client.waitEnd()
    expect(end.code).toBe(4400)
    expect((await catalog(relay.httpUrl)).has(name)).toBe(false)
  })

  it('keeps what a socket wrote before its bad frame, and its digest', async () => {
    const client = await WireClient.open(relay.url, 'cc/before-bad')
    client.send(encodeSyncUpdate(validUpdate('good')))
    await client.waitFor('ack')
    const before = (await catalog(relay.httpUrl)).get('cc/before-bad')
    expect(before?.digest).toMatch(/^[0-9a-f]{64}$/)
    client.send(encodeSyncUpdate(frame(0xff, 0xff, 0xff, 0x7f, 1)))
    expect((await client.waitEnd()).code).toBe(4400)
    expect((await catalog(relay.httpUrl)).get('cc/before-bad')).toEqual(before)
  })

  it('closes a frame over --max-message-bytes with 4413', async () => {
    const client = await WireClient.open(relay.url, 'cc/oversize')
    await client.waitFor('sync-step1')
    client.send(encodeSyncUpdate(validUpdate('x'.repeat(5000))))
    expect((await client.waitEnd()).code).toBe(4413)
    expect((await catalog(relay.httpUrl)).has('cc/oversize')).toBe(false)
  })

  it('closes an awareness update over its own bound with 4413', async () => {
    // The 64 KiB awareness cap applies under a frame limit that would let the frame through.
    const big = await startRelay({ args: ['--max-message-bytes', String(1024 * 1024)] })
    const c2 = await WireClient.open(big.url, 'cc/awareness-size')
    await c2.waitFor('sync-step1')
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint(e, 12345)
    encoding.writeVarUint(e, 1)
    encoding.writeVarString(e, JSON.stringify({ blob: 'x'.repeat(100_000) }))
    const update = encoding.toUint8Array(e)
    const w = encoding.createEncoder()
    encoding.writeVarUint(w, 1)
    encoding.writeVarUint8Array(w, update)
    c2.send(encoding.toUint8Array(w))
    expect((await c2.waitEnd()).code).toBe(4413)
  })

  it('closes a socket over --rate-messages with 4429', async () => {
    const client = await WireClient.open(relay.url, 'cc/flood')
    await client.waitFor('sync-step1')
    for (let i = 0; i < 400; i++) client.send(encodeQueryAwareness())
    expect((await client.waitEnd()).code).toBe(4429)
  })

  it.each([
    ['a parent segment', '/a/../b'],
    ['a bare parent', '/..'],
    ['a percent-encoded parent', '/a/%2e%2e/b'],
    ['a percent-encoded parent at the start', '/%2e%2e/etc'],
    ['a dot segment', '/a/./b'],
    ['an empty segment', '/a//b'],
    ['an encoded empty segment', '/a%2F%2Fb'],
    ['a leading slash', '//abs'],
    ['a relay path', '/_mesh2'],
    ['an encoded relay path', '/%5Fmesh'],
    ['a leading dot', '/.hidden'],
    ['a space', '/a%20b'],
    ['a backslash', '/a\\b'],
    ['an encoded backslash traversal', '/a%5C..%5Cb'],
    ['unicode', '/caf%C3%A9'],
    ['a bad escape', '/a%zz'],
    ['an empty name', '/'],
    ['256 bytes', `/${'n'.repeat(256)}`],
    ['a NUL byte', '/a%00b'],
  ])('refuses %s with HTTP 400 at upgrade', async (_what, path) => {
    expect(await rawUpgradeStatus(relay.port, `${path}?rhizome=1`)).toBe(400)
  })

  it('accepts the longest and the oddest valid names', async () => {
    expect(await rawUpgradeStatus(relay.port, `/${'n'.repeat(255)}`)).toBe(101)
    expect(await rawUpgradeStatus(relay.port, '/a.b/c~d/e:f@g/h-i_j')).toBe(101)
    expect(await rawUpgradeStatus(relay.port, '/a%2Fb')).toBe(101)
  })

  it('keeps serving other documents after all of the above', async () => {
    await stillServes(relay, 'cc/after-everything')
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json()
    expect(health.ok).toBe(true)
  })
})

describe('shutdown', () => {
  afterAll(stopAllRelays)

  it('closes sockets with 1001 on SIGTERM after flushing, and exits 0', async () => {
    const relay = await startRelay()
    const client = await WireClient.open(relay.url, 'cc/shutdown')
    const stock = stockProvider(relay.url, 'cc/shutdown')
    await whenSynced(stock)
    const closeCodes: number[] = []
    stock.on('connection-close', (event) => {
      if (event) closeCodes.push(event.code)
    })
    const doc = new Y.Doc()
    client.send(encodeSyncStep1(Y.encodeStateVector(doc)))
    doc.getText('t').insert(0, 'flushed before exit')
    client.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
    // Applied (fanned out), maybe not yet committed: SIGTERM must flush it.
    await eventually(() => stock.doc.getText('t').toString() === 'flushed before exit', { what: 'fan-out' })
    expect(await relay.stop()).toBe(0)
    expect((await client.waitEnd()).code).toBe(1001)
    expect(closeCodes).toContain(1001)
    stock.destroy()
    await relay.start()
    const reader = stockProvider(relay.url, 'cc/shutdown')
    await whenSynced(reader)
    expect(reader.doc.getText('t').toString()).toBe('flushed before exit')
  })

  it('treats SIGINT like SIGTERM', async () => {
    const relay = await startRelay()
    const client = await WireClient.open(relay.url, 'cc/sigint')
    await client.waitFor('sync-step1')
    const child = relay.child!
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGINT')
    expect((await client.waitEnd()).code).toBe(1001)
    expect(await exited).toBe(0)
  })
})
