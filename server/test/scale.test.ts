import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeSyncUpdate } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { rssOf } from './support/memory.js'
import { stockProvider, whenSynced } from './support/providers.js'
import { WireClient } from './support/WireClient.js'

const DOCS = 10_000
const MiB = 1024 * 1024
const dirs: string[] = []

afterAll(async () => {
  await stopAllRelays()
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

/** Fills a data directory with `count` small documents through the store the relay uses. */
async function fillStore(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-scale-'))
  dirs.push(dir)
  const store = await DocStore.open(new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' }))
  const pending: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, `document ${i} `.repeat(8))
    doc.getMap('m').set('i', i)
    pending.push(store.append(`scale/${String(i).padStart(5, '0')}`, Y.encodeStateAsUpdate(doc)))
    doc.destroy()
    if (pending.length >= 500) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
  await store.close()
  return dir
}

/** RSS once it stopped moving by more than 2 MiB between samples (startup settled). */
async function settledRss(relay: RelayProcess): Promise<number> {
  const pid = relay.child!.pid!
  let last = await rssOf(pid)
  return eventually(
    async () => {
      await new Promise((r) => setTimeout(r, 300))
      const now = await rssOf(pid)
      const settled = Math.abs(now - last) < 2 * MiB
      last = now
      return settled ? now : 0
    },
    { what: 'settled RSS' },
  )
}

describe('10,000 stored documents', () => {
  it('costs no memory at start: RSS stays flat compared with an empty relay', {
    timeout: 120_000,
  }, async () => {
    const full = await fillStore(DOCS)
    const empty = await startRelay()
    const emptyRss = await settledRss(empty)
    await empty.stop()

    const relay = await startRelay({ dataDir: full })
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json()
    expect(health.docs).toBe(DOCS)
    const fullRss = await settledRss(relay)
    console.log(
      `rss: empty relay ${(emptyRss / MiB).toFixed(1)} MiB, 10k docs ${(fullRss / MiB).toFixed(1)} MiB`,
    )
    expect(fullRss).toBeLessThan(emptyRss + 40 * MiB)

    // Any one of them is served, and serving a few does not load the rest.
    for (const i of [0, 4321, DOCS - 1]) {
      const p = stockProvider(relay.url, `scale/${String(i).padStart(5, '0')}`)
      await whenSynced(p)
      expect(p.doc.getMap('m').get('i')).toBe(i)
      p.destroy()
    }
    expect(await rssOf(relay.child!.pid!)).toBeLessThan(emptyRss + 60 * MiB)

    // /docs pages through all of them in name order; `next` is the last name of a page.
    const first = await (await fetch(`${relay.httpUrl}/docs?limit=3`)).json()
    expect(first.docs.map((d: { name: string }) => d.name)).toEqual([
      'scale/00000',
      'scale/00001',
      'scale/00002',
    ])
    expect(first.next).toBe('scale/00002')
    const second = await (await fetch(`${relay.httpUrl}/docs?limit=2&after=${first.next}`)).json()
    expect(second.docs.map((d: { name: string }) => d.name)).toEqual(['scale/00003', 'scale/00004'])
    const last = await (await fetch(`${relay.httpUrl}/docs?after=scale/09998`)).json()
    expect(last).toMatchObject({ docs: [{ name: 'scale/09999' }], next: null })
    expect(last.docs[0].digest).toMatch(/^[0-9a-f]{64}$/)
    expect((await fetch(`${relay.httpUrl}/docs?limit=zero`)).status).toBe(400)
  })
})

describe('idle documents', () => {
  it('are flushed and evicted from memory, and load again on demand', async () => {
    const relay = await startRelay({ args: ['--idle-ms', '300'] })
    const active = async () => {
      const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
      return Number(/^rhizome_docs_active (\d+)/m.exec(text)?.[1])
    }
    const clients = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const c = await WireClient.open(relay.url, `idle/${i}`)
        const d = new Y.Doc()
        d.getText('t').insert(0, `idle ${i}`)
        c.send(encodeSyncUpdate(Y.encodeStateAsUpdate(d)))
        await c.waitFor('ack')
        return c
      }),
    )
    expect(await active()).toBe(30)
    for (const c of clients) c.close()
    await eventually(async () => (await active()) === 0, { what: 'every idle document evicted' })
    const p = stockProvider(relay.url, 'idle/7')
    await whenSynced(p)
    expect(p.doc.getText('t').toString()).toBe('idle 7')
    expect(await active()).toBe(1)
  })
})
