import { rm } from 'node:fs/promises'
import { digestOfDoc } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { catalogOf } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { health, RawClient, readDoc } from '../../test/support/rawClient.js'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { rawUpgradeStatus } from './support/rawUpgrade.js'

afterEach(stopAllRelays)

/** A, B and C in a full mesh with one link per pair: B dials A, C dials A and B. */
async function threeRelays(args: string[] = []): Promise<[RelayProcess, RelayProcess, RelayProcess]> {
  const a = await startRelay({ args })
  const b = await startRelay({ peers: [a.url], args })
  const c = await startRelay({ peers: [a.url, b.url], args })
  await eventually(async () => (await health(c.httpUrl)).peers.every((p) => p.connected), {
    what: 'mesh links',
  })
  await eventually(
    async () => !(await health(b.httpUrl)).recovering && !(await health(c.httpUrl)).recovering,
    {
      what: 'first anti-entropy pass',
    },
  )
  return [a, b, c]
}

async function writeText(relay: RelayProcess, name: string, text: string, copies = 1): Promise<void> {
  const client = await RawClient.connect(relay.url, name)
  client.doc.getText('t').insert(client.doc.getText('t').length, text)
  await client.waitForCopies(copies)
  client.close()
}

async function digestsConverged(relays: RelayProcess[]): Promise<Map<string, string | null> | false> {
  const catalogs = await Promise.all(relays.map((r) => catalogOf(r.httpUrl)))
  const first = catalogs[0]!
  for (const other of catalogs.slice(1)) {
    if (other.size !== first.size) return false
    for (const [name, digest] of first) if (other.get(name) !== digest || digest === null) return false
  }
  return first
}

describe('relay mesh', () => {
  it('replicates a write on A to C and acknowledges it with copies = 3', async () => {
    const [a, , c] = await threeRelays()
    const writer = await RawClient.connect(a.url, 'notes/mesh')
    writer.doc.getText('t').insert(0, 'written through A')
    writer.doc.getMap('m').set('k', 42)
    await writer.waitForCopies(3)

    // A stock y-websocket client on C reads it.
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(c.url, 'notes/mesh', doc, {
      WebSocketPolyfill: WebSocket as never,
      disableBc: true,
    })
    try {
      await eventually(
        () => doc.getText('t').toString() === 'written through A' && doc.getMap('m').get('k') === 42,
        {
          what: 'content on C',
        },
      )
    } finally {
      provider.destroy()
    }
    expect(digestOfDoc(doc)).toBe(digestOfDoc(writer.doc))
    writer.close()
  })

  it('refills a wiped relay; it then serves every document alone', async () => {
    const [a, b, c] = await threeRelays()
    const names = Array.from({ length: 20 }, (_, i) => `docs/${i}`)
    for (const name of names) await writeText(a, name, `content of ${name}`, 3)

    await c.kill()
    await rm(c.dataDir, { recursive: true, force: true })
    await c.start()
    expect((await health(c.httpUrl)).recovering).toBe(true)
    await eventually(async () => !(await health(c.httpUrl)).recovering, { what: 'recovery of C' })
    await a.stop()
    await b.stop()
    const catalog = await catalogOf(c.httpUrl)
    expect([...catalog.keys()].sort()).toEqual([...names].sort())
    for (const name of names) {
      const doc = await readDoc(c.url, name)
      expect(doc.getText('t').toString()).toBe(`content of ${name}`)
    }
  })

  it('converges after a split: every write present, equal digests everywhere', async () => {
    const [a, b, c] = await threeRelays()
    await writeText(a, 'split/shared', 'before ', 3)
    await c.stop()
    await writeText(a, 'split/shared', 'from-A ')
    await writeText(b, 'split/shared', 'from-B ')
    await writeText(b, 'split/only-b', 'only B')
    await a.stop()
    await b.stop()
    await c.start()
    await writeText(c, 'split/shared', 'from-C ')
    await writeText(c, 'split/only-c', 'only C')
    await a.start()
    await b.start()

    const catalog = await eventually(() => digestsConverged([a, b, c]), {
      timeout: 30_000,
      what: 'equal digests',
    })
    expect([...catalog.keys()].sort()).toEqual(['split/only-b', 'split/only-c', 'split/shared'])
    for (const relay of [a, b, c]) {
      const shared = (await readDoc(relay.url, 'split/shared')).getText('t').toString()
      for (const part of ['before', 'from-A', 'from-B', 'from-C']) expect(shared).toContain(part)
      expect((await readDoc(relay.url, 'split/only-b')).getText('t').toString()).toBe('only B')
      expect((await readDoc(relay.url, 'split/only-c')).getText('t').toString()).toBe('only C')
    }
  })

  it('an empty relay recovers 1,000 documents from one peer', async () => {
    // Writing 1,000 documents in a few seconds is past the default new-document budget (600).
    const a = await startRelay({ args: ['--max-new-docs-per-minute', '0'] })
    const writers = 8
    const total = 1000
    let next = 0
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < total) {
          const i = next++
          await writeText(a, `bulk/${String(i).padStart(4, '0')}`, `document ${i} `.repeat(20))
        }
      }),
    )
    expect((await health(a.httpUrl)).docs).toBe(total)
    const fresh = await startRelay({ peers: [a.url] })
    await eventually(async () => !(await health(fresh.httpUrl)).recovering, {
      timeout: 60_000,
      what: 'recovery',
    })
    const catalog = await digestsConverged([a, fresh])
    expect(catalog ? catalog.size : 0).toBe(total)
  })

  it('refuses a peer with the wrong mesh secret and replicates with the right one', async () => {
    const a = await startRelay({ args: ['--mesh-secret', 'right-secret-0123456789'] })
    await writeText(a, 'secret/doc', 'only for the mesh')
    const wrong = await startRelay({ peers: [a.url], args: ['--mesh-secret', 'wrong-secret-0123456789'] })
    const right = await startRelay({ peers: [a.url], args: ['--mesh-secret', 'right-secret-0123456789'] })
    await eventually(async () => !(await health(right.httpUrl)).recovering, { what: 'right peer synced' })
    expect((await catalogOf(right.httpUrl)).has('secret/doc')).toBe(true)
    const wrongHealth = await health(wrong.httpUrl)
    expect(wrongHealth.recovering).toBe(true)
    expect(wrongHealth.peers[0]!.connected).toBe(false)
    expect((await catalogOf(wrong.httpUrl)).size).toBe(0)
    const logs = [...a.log, ...wrong.log, ...right.log].join('')
    expect(logs).toContain('failed the mesh secret challenge')
    expect(logs).not.toContain('right-secret-0123456789')
    expect(logs).not.toContain('wrong-secret-0123456789')
  })

  it('repairs a corrupt document from a peer and never serves the damaged copy', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    await eventually(async () => !(await health(b.httpUrl)).recovering, { what: 'mesh' })
    await writeText(a, 'rot/doc', 'precious words', 2)
    await writeText(a, 'rot/other', 'untouched', 2)
    await a.stop()

    // Flip bytes in every stored record of rot/doc, through the raw database.
    const db = new ClassicLevel<string, Uint8Array>(a.dataDir, { valueEncoding: 'view' })
    let flipped = 0
    for await (const [key, value] of db.iterator({ gte: 'd:rot/doc\u0000', lt: 'd:rot/doc\u0001' })) {
      const damaged = Uint8Array.from(value)
      damaged[damaged.length - 1]! ^= 0xff
      await db.put(key, damaged)
      flipped++
    }
    await db.close()
    expect(flipped).toBeGreaterThan(0)

    await a.start()
    // The first reader finds the damage: it is refused (transient), never served broken content.
    const refused = await RawClient.connect(a.url, 'rot/doc').then(
      (c) => c.doc.getText('t').toString(),
      (err: Error) => err.message,
    )
    expect(refused).toMatch(/closed with 4500|precious words/)
    await eventually(
      async () => {
        try {
          return (await readDoc(a.url, 'rot/doc')).getText('t').toString() === 'precious words'
        } catch {
          return false
        }
      },
      { what: 'repaired document served' },
    )
    expect((await readDoc(a.url, 'rot/other')).getText('t').toString()).toBe('untouched')
    await eventually(() => digestsConverged([a, b]), { what: 'digests equal after repair' })
  })

  it('replicates a document far larger than --max-message-bytes (chunked mesh messages)', async () => {
    const limit = ['--max-message-bytes', '65536']
    const a = await startRelay({ args: limit })
    const writer = await RawClient.connect(a.url, 'big/doc')
    const text = writer.doc.getText('t')
    for (let i = 0; i < 60; i++) text.insert(text.length, `${i}:`.padEnd(50_000, 'x'))
    await writer.waitForCopies(1, 30_000)
    const b = await startRelay({ peers: [a.url], args: limit })
    await eventually(async () => !(await health(b.httpUrl)).recovering, {
      timeout: 30_000,
      what: 'B pulled A',
    })
    const catalog = await digestsConverged([a, b])
    expect(catalog ? catalog.get('big/doc') : null).toBe(digestOfDoc(writer.doc))
    expect(b.log.join('')).not.toMatch(/peer link closed/)
    writer.close()
  })

  it('refuses /_mesh with HTTP 403 on a loopback relay without a mesh secret', async () => {
    // Red-team finding 8: an anonymous loopback relay used to run the handshake with the empty
    // secret, so any local process could become a full peer (every document, 1 GiB frames).
    const open = await startRelay({ meshSecret: null })
    expect(await rawUpgradeStatus(open.port, '/_mesh')).toBe(403)
    await eventually(() => open.log.join('').includes('refused a mesh connection'), {
      what: 'the refusal logged',
    })
    const secured = await startRelay()
    expect(await rawUpgradeStatus(secured.port, '/_mesh')).toBe(101)
  })

  it('closes a mesh socket that never authenticates', async () => {
    const a = await startRelay()
    const ws = new WebSocket(`${a.url}/_mesh`)
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)))
    expect(code).toBe(4401)
  })
})
