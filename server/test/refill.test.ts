// A relay that lost its disk refills from its peers whole documents at a time (docs/PROTOCOL.md,
// Mesh: fetch and records): stored exactly as the peer stores them, checksums and receive times
// kept, each document fetched once however many peers offer it.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogOf } from '../../test/support/catalog.mjs'
import { metric } from '../../test/support/metrics.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { health } from '../../test/support/rawClient.js'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'

afterEach(stopAllRelays)

const DOCS = 300
const HOUR = 3_600_000

/**
 * Writes the same `DOCS` documents into a new data directory (each store gets its own id): three
 * updates received two hours ago, two more now; every third document compacted.
 */
async function dataDir(): Promise<{ dir: string; bytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-refill-'))
  const db = new ClassicLevel(dir)
  const store = await DocStore.open(db)
  let bytes = 0
  for (let i = 0; i < DOCS; i++) {
    const name = `refill/${String(i).padStart(4, '0')}`
    const doc = new Y.Doc()
    doc.clientID = 500 + i
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (let p = 0; p < 5; p++) doc.getText('t').insert(0, `document ${i} part ${p} `.repeat(20))
    for (const [j, u] of updates.entries()) {
      await store.append(name, u, j < 3 ? { at: Date.now() - 2 * HOUR } : {})
      bytes += u.length
    }
    if (i % 3 === 0) await store.compact(name)
    await store.getDigest(name)
    doc.destroy()
  }
  await store.close()
  return { dir, bytes }
}

/** Every data record (`d:` keys) of a stopped relay's store, as key => hex value. */
async function dataRecords(dir: string): Promise<Map<string, string>> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  const out = new Map<string, string>()
  for await (const [key, value] of db.iterator({ gt: 'd:', lt: 'd;' }))
    out.set(key, Buffer.from(value).toString('hex'))
  await db.close()
  return out
}

async function refilled(source: RelayProcess, fresh: RelayProcess): Promise<Map<string, string | null>> {
  await eventually(async () => !(await health(fresh.httpUrl)).recovering, { timeout: 60_000, what: 'refill' })
  const expected = await catalogOf(source.httpUrl)
  let got = new Map<string, string | null>()
  await eventually(
    async () => {
      got = await catalogOf(fresh.httpUrl)
      return got.size === expected.size && [...expected].every(([n, d]) => d !== null && got.get(n) === d)
    },
    { timeout: 30_000, what: 'equal catalogs' },
  )
  return got
}

describe('refill of a relay that lost its disk', () => {
  it('stores whole documents exactly as the peer holds them: checksums and receive times kept', async () => {
    const { dir } = await dataDir()
    const a = await startRelay({ dataDir: dir })
    const fresh = await startRelay({ peers: [a.url] })
    expect((await refilled(a, fresh)).size).toBe(DOCS)
    // History came along: a moment between the two sessions of edits has restore points on both.
    const restore = async (r: RelayProcess) => {
      const res = await fetch(`${r.httpUrl}/docs/${encodeURIComponent('refill/0001')}?history=1`)
      expect(res.status).toBe(200)
      return ((await res.json()) as { points: { at: number; bytes: number }[] }).points
    }
    const points = await restore(a)
    expect(points.length).toBeGreaterThanOrEqual(2)
    expect(await restore(fresh)).toEqual(points)
    await a.stop()
    await fresh.stop()
    // Byte for byte the same records under the same keys: nothing was merged or re-encoded.
    const source = await dataRecords(a.dataDir)
    expect(source.size).toBeGreaterThan(DOCS)
    expect(await dataRecords(fresh.dataDir)).toEqual(source)
    // And the refilled store verifies clean.
    const store = await DocStore.open(new ClassicLevel(fresh.dataDir))
    expect((await store.scrub()).corrupt).toEqual([])
    await store.close()
  })

  it('a refill killed with SIGKILL midway resumes and leaves a store that verifies clean', async () => {
    const { dir } = await dataDir()
    const a = await startRelay({ dataDir: dir })
    const fresh = await startRelay({ peers: [a.url] })
    await eventually(async () => (await health(fresh.httpUrl)).docs > 0, { what: 'refill under way' })
    await fresh.kill()
    await fresh.start()
    expect((await refilled(a, fresh)).size).toBe(DOCS)
    await fresh.stop()
    const store = await DocStore.open(new ClassicLevel(fresh.dataDir))
    expect(store.docCount).toBe(DOCS)
    expect((await store.scrub()).corrupt).toEqual([])
    await store.close()
  })

  it('from three peers at once, fetches each document once', async () => {
    const dirs = await Promise.all([dataDir(), dataDir(), dataDir()])
    const peers = await Promise.all(dirs.map(({ dir }) => startRelay({ dataDir: dir })))
    const fresh = await startRelay({ peers: peers.map((p) => p.url) })
    expect((await refilled(peers[0]!, fresh)).size).toBe(DOCS)
    let received = 0
    for (const p of peers)
      received += await metric(
        fresh.httpUrl,
        `rhizome_replication_bytes_total{peer="${p.id}",direction="in"}`,
      )
    // Stored values carry a 4-byte checksum and compaction merges; one copy's worth, not three.
    expect(received).toBeGreaterThan(dirs[0]!.bytes * 0.5)
    expect(received).toBeLessThan(dirs[0]!.bytes * 1.5)
  })
})
