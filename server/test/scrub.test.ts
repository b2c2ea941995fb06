import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogOf } from '../../test/support/catalog.mjs'
import { metric } from '../../test/support/metrics.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { health } from '../../test/support/rawClient.js'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'

afterEach(stopAllRelays)

/** Writes `count` small documents straight into a stopped relay's data directory. */
async function fill(dir: string, count: number, prefix = 'doc'): Promise<void> {
  const store = await DocStore.open(new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' }))
  try {
    const writes: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      const doc = new Y.Doc()
      doc.getText('t').insert(0, `${prefix} ${i} `.repeat(4))
      writes.push(store.append(`${prefix}/${String(i).padStart(5, '0')}`, Y.encodeStateAsUpdate(doc)))
    }
    await Promise.all(writes)
  } finally {
    await store.close()
  }
}

/** Flips one byte in the stored snapshot or log record of `doc` (the relay must be stopped). */
async function flipRecordOf(dir: string, doc: string): Promise<void> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  try {
    const [key, value] = (
      await db.iterator({ gte: `d:${doc}\u0000`, lt: `d:${doc}\u0001`, limit: 1 }).all()
    )[0]!
    const copy = new Uint8Array(value)
    copy[copy.length - 1]! ^= 0x10
    await db.put(key, copy, { sync: true })
  } finally {
    await db.close()
  }
}

describe('background scrubber', () => {
  it('finds a corrupted record nobody reads, quarantines it and repairs it from a peer', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url], args: ['--scrub-interval-ms', '1000'] })
    await b.stop()
    await a.stop()
    await fill(a.dataDir, 40)
    await a.start()
    await b.start()
    await eventually(async () => (await catalogOf(b.httpUrl)).size === 40, { what: 'b to hold 40 documents' })
    await eventually(
      async () =>
        JSON.stringify([...(await catalogOf(a.httpUrl))]) ===
        JSON.stringify([...(await catalogOf(b.httpUrl))]),
      { what: 'a and b to converge' },
    )
    await b.stop()
    await flipRecordOf(b.dataDir, 'doc/00017')
    await b.start()
    // No client opens the document: only the scrubber can find the damage.
    await eventually(async () => (await metric(b.httpUrl, 'rhizome_scrub_corrupt_total')) >= 1, {
      what: 'the scrubber to count the damaged document',
    })
    // The log line is written asynchronously (pino): wait for it rather than race the metric.
    await eventually(
      () => b.log.some((l) => /scrub: document has corrupt records/.test(l) && l.includes('doc/00017')),
      { what: 'the scrubber to log the damaged document' },
    )
    await eventually(async () => (await metric(b.httpUrl, 'rhizome_scrub_passes_total')) >= 1, {
      what: 'a complete scrub pass',
    })
    // Repaired from the peer: the digests agree again, and the repaired copy is checksummed.
    await eventually(
      async () => {
        const [ca, cb] = [await catalogOf(a.httpUrl), await catalogOf(b.httpUrl)]
        return cb.get('doc/00017') !== null && cb.get('doc/00017') === ca.get('doc/00017')
      },
      { what: 'b to repair doc/00017 from a' },
    )
    await b.stop()
    const store = await DocStore.open(
      new ClassicLevel<string, Uint8Array>(b.dataDir, { valueEncoding: 'view' }),
    )
    try {
      expect((await store.scrub({ limit: 1000 })).corrupt).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('serves before the first scrub pass has ended: start-up reads no data', async () => {
    const relay = await startRelay({ args: ['--scrub-interval-ms', '1000'] })
    await relay.stop()
    await fill(relay.dataDir, 3000)
    await relay.start()
    // The first pass starts a second after start-up and pauses between its steps: /healthz answers
    // before it ends.
    const h = await health(relay.httpUrl)
    expect(h.ok).toBe(true)
    expect(h.docs).toBe(3000)
    expect(await metric(relay.httpUrl, 'rhizome_scrub_passes_total')).toBe(0)
    await eventually(async () => (await metric(relay.httpUrl, 'rhizome_scrub_passes_total')) === 1, {
      what: 'the scrub pass to finish',
      timeout: 30_000,
    })
    // One log record per document was written.
    expect(await metric(relay.httpUrl, 'rhizome_scrub_records_total')).toBe(3000)
  })
})
