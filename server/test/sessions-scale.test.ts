import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually, type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'
import { rssOf } from './support/memory.js'

const DOCS = 10_000
const MiB = 1024 * 1024

afterAll(stopAllRelays)

async function metric(relay: RelayProcess, line: string): Promise<number> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  return Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

describe('10,000 documents through one session', () => {
  it('stores them without holding them in memory: RSS and loaded documents stay bounded', {
    timeout: 180_000,
  }, async () => {
    const relay = await startRelay()
    const pid = relay.child!.pid!
    const { client } = await SessionClient.connect(relay.url, { patterns: ['bulk/**'] })
    await client.round(1)
    const before = await rssOf(pid)
    let peak = before
    let peakActive = 0
    const sampler = setInterval(() => {
      rssOf(pid).then(
        (rss) => {
          peak = Math.max(peak, rss)
        },
        () => {},
      )
      metric(relay, 'rhizome_docs_active').then(
        (n) => {
          peakActive = Math.max(peakActive, n)
        },
        () => {},
      )
    }, 100)
    try {
      for (let i = 0; i < DOCS; i++) {
        const doc = new Y.Doc()
        doc.getText('t').insert(0, `document ${i} `.repeat(8))
        doc.getMap('m').set('i', i)
        client.push(`bulk/${String(i).padStart(5, '0')}`, doc)
        doc.destroy()
        // A device streams, it does not dump: keep at most 1,000 unacknowledged documents.
        if (i % 500 === 499) {
          await eventually(() => client.all('ack').length >= i - 1000, { timeout: 60_000, what: 'ACKs' })
        }
      }
      await eventually(() => client.all('ack').length >= DOCS, { timeout: 120_000, what: `${DOCS} ACKs` })
    } finally {
      clearInterval(sampler)
    }
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json()
    expect(health.docs).toBe(DOCS)
    console.log(
      `rss before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB; peak loaded documents ${peakActive}`,
    )
    // Documents the relay never held go straight into the store: none is loaded for them.
    expect(peakActive).toBeLessThan(50)
    expect(peak - before).toBeLessThan(100 * MiB)
    client.close()
  })
})
