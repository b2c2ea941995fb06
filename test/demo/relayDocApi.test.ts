import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startControlServer } from '../../demo/scripts/controlServer.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../support/relays.js'

// The demo control server's proxies of the relays' document API (demo/scripts/relayDocApi.mjs):
// what the page may ask for (only demo notes, valid names and times, writes with the demo
// header), and that it reaches the real relay's history, revert and delete (docs/PROTOCOL.md
// sections 9 and 10).
describe('demo control server: history, revert and delete proxies', () => {
  let relay: RelayProcess
  let control: import('node:http').Server
  let base = ''
  const doc = 'demo/notes/proxy-test'

  beforeAll(async () => {
    relay = await startRelay({ meshSecret: null })
    const relays = [{ n: 1, url: relay.url, httpUrl: relay.httpUrl, state: 'running' }]
    const supervisor = {
      relays,
      relay: (n: number) => relays.find((r) => r.n === n),
      snapshot: async () => ({ relays }),
    }
    // biome-ignore lint/suspicious/noExplicitAny: a stand-in for the supervisor's few members used here
    control = await startControlServer(supervisor as any, { port: 0, info: () => ({}) })
    base = `http://127.0.0.1:${(control.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    control?.closeAllConnections()
    await new Promise((r) => (control ? control.close(r) : r(undefined)))
    await stopAllRelays()
  })

  const write = { 'x-rhizome-demo': '1' }

  it('refuses names outside demo/notes/ or against docs/PROTOCOL.md section 2, bad times and relays, and writes without the header', async () => {
    for (const name of [
      'demo/notes/',
      'demo/notes/../x',
      'demo/notes//x',
      'other/x',
      '_mesh',
      'demo/notes/a b',
    ]) {
      const res = await fetch(`${base}/api/history?doc=${encodeURIComponent(name)}`)
      expect(res.status, name).toBe(400)
      expect((await res.json()).error).toBe('DOC_NAME_INVALID')
    }
    expect((await fetch(`${base}/api/history`)).status).toBe(400)
    for (const query of ['at=abc&relay=1', 'at=-5&relay=1', 'at=1&relay=9', 'at=1&relay=x', 'at=1']) {
      const res = await fetch(`${base}/api/revert?doc=${doc}&${query}`, { method: 'POST', headers: write })
      expect(res.status, query).toBe(400)
    }
    expect((await fetch(`${base}/api/revert?doc=${doc}&at=1&relay=1`, { method: 'POST' })).status).toBe(403)
    expect((await fetch(`${base}/api/doc?doc=${doc}`, { method: 'DELETE' })).status).toBe(403)
    // An unknown note: the relay's 404 is passed on, and nothing is created.
    expect((await fetch(`${base}/api/history?doc=${doc}`)).status).toBe(404)
  })

  it('lists the relay’s restore points, reads and reverts to one, and deletes the note on the relay', async () => {
    const ydoc = new Y.Doc()
    ydoc.getText('body').insert(0, 'first version')
    const post = (update: Uint8Array) =>
      fetch(`${relay.httpUrl}/docs/${doc}`, { method: 'POST', body: Buffer.from(update) })
    expect((await post(Y.encodeStateAsUpdate(ydoc))).status).toBe(200)
    const history = await (await fetch(`${base}/api/history?doc=${doc}`)).json()
    expect(history).toMatchObject({ doc, relay: 1 })
    const at = history.points[0].at as number
    const before = Y.encodeStateVector(ydoc)
    ydoc.getText('body').delete(0, ydoc.getText('body').length)
    expect((await post(Y.encodeStateAsUpdate(ydoc, before))).status).toBe(200)

    const version = new Y.Doc()
    const res = await fetch(`${base}/api/version?doc=${doc}&at=${at}&relay=1`)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    Y.applyUpdate(version, new Uint8Array(await res.arrayBuffer()))
    expect(version.getText('body').toString()).toBe('first version')

    const revert = await fetch(`${base}/api/revert?doc=${doc}&at=${at}&relay=1`, {
      method: 'POST',
      headers: write,
    })
    expect(await revert.json()).toEqual({ copies: 1 })
    const now = new Y.Doc()
    Y.applyUpdate(now, new Uint8Array(await (await fetch(`${relay.httpUrl}/docs/${doc}`)).arrayBuffer()))
    expect(now.getText('body').toString()).toBe('first version')

    const deleted = await fetch(`${base}/api/doc?doc=${doc}`, { method: 'DELETE', headers: write })
    expect(await deleted.json()).toMatchObject({ doc, deleted: true })
    expect((await fetch(`${relay.httpUrl}/docs/${doc}`)).status).toBe(404)
    const tombstones = await (await fetch(`${relay.httpUrl}/docs?deleted=1`)).json()
    expect(tombstones.docs.map((d: { name: string }) => d.name)).toContain(doc)
  })
})
