// Scenario 6, idle documents: a relay's RSS with no documents, with N stored documents and no client
// (they must cost nothing: the relay loads a document only while it is active), and with M of them
// active (one client each). The peers, which also load on demand, with the same M documents stored.
import { join } from 'node:path'
import { metric } from '../../support/metrics.mjs'
import { writeHocuspocus, writeRhizome, writeYLeveldb } from '../lib/datasets.mjs'
import { syntheticDocs } from '../lib/docs.mjs'
import { BenchClient, openMany } from '../lib/loadgen.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { memory, sleep } from '../lib/stats.mjs'

export const title = 'Idle documents: RSS stored vs active'
const MB = 2 ** 20
const SETTLE_MS = 2000

async function rssOf(server) {
  await sleep(SETTLE_MS)
  return memory(server.pid).rss / MB
}

async function anonOf(server) {
  return memory(server.pid).anon / MB
}

async function activeRss(server, names) {
  const clients = await openMany(names.length, (i) => BenchClient.open(server, names[i]))
  const rss = await rssOf(server)
  for (const c of clients) c.close()
  return rss
}

export async function run(ctx) {
  const stored = ctx.shared.storedDocs?.count ?? (ctx.quick ? 300 : 10_000)
  const active = ctx.quick ? 100 : 1000
  let dir = ctx.shared.storedDocs?.dir
  if (!dir) {
    dir = await tempDir('idle-rhizome')
    await writeRhizome(dir, syntheticDocs(stored))
  }
  const names = [...syntheticDocs(active)].map(([name]) => name)
  const results = {}
  const args = ['--max-connections-per-ip', '100000']
  if (ctx.kinds(['rhizome']).length) {
    const empty = await startServer('rhizome', { args })
    const emptyRss = await rssOf(empty)
    const emptyAnon = await anonOf(empty)
    await empty.stop()
    const relay = await startServer('rhizome', { data: dir, args })
    try {
      const idleRss = await rssOf(relay)
      const idle = memory(relay.pid)
      const withActive = await activeRss(relay, names)
      results.rhizome = {
        emptyRssMB: emptyRss,
        idleRssMB: idleRss,
        idleCostMB: idleRss - emptyRss,
        // Anonymous memory (heap) vs file-backed pages (LevelDB table files mapped by the OS).
        idleAnonCostMB: idle.anon / MB - emptyAnon,
        idleFileRssMB: idle.file / MB,
        activeRssMB: withActive,
        perActiveDocKB: ((withActive - idleRss) * 1024) / active,
      }
    } finally {
      await relay.stop()
    }
    // The same relay once its background scrubber has read every record (first pass forced early).
    const scrubbed = await startServer('rhizome', {
      data: dir,
      args: [...args, '--scrub-interval-ms', '1000'],
    })
    try {
      const t0 = performance.now()
      while ((await metric(scrubbed.httpUrl, 'rhizome_scrub_passes_total')) < 1) {
        if (performance.now() - t0 > 300_000) throw new Error('no scrub pass within 5 minutes')
        await sleep(100)
      }
      const rss = await rssOf(scrubbed)
      const mem = memory(scrubbed.pid)
      results.rhizome.afterScrubCostMB = rss - emptyRss
      results.rhizome.afterScrubAnonCostMB = mem.anon / MB - emptyAnon
    } finally {
      await scrubbed.stop()
    }
    ctx.log(`  rhizome: ${JSON.stringify(results.rhizome)}`)
  }
  const subset = [...syntheticDocs(active)]
  for (const kind of ctx.kinds(['yws-leveldb', 'hocuspocus'])) {
    let data
    if (kind === 'yws-leveldb') {
      data = await tempDir('idle-yleveldb')
      await writeYLeveldb(data, subset)
    } else {
      data = join(await tempDir('idle-hocuspocus'), 'db.sqlite')
      await writeHocuspocus(data, subset)
    }
    const server = await startServer(kind, { data })
    try {
      const idleRss = await rssOf(server)
      const withActive = await activeRss(server, names)
      results[kind] = {
        idleRssMB: idleRss,
        activeRssMB: withActive,
        perActiveDocKB: ((withActive - idleRss) * 1024) / active,
      }
    } finally {
      await server.stop()
    }
    ctx.log(`  ${kind}: ${JSON.stringify(results[kind])}`)
  }
  return { params: { storedDocs: stored, activeDocs: active, docBytes: 10_000 }, results }
}
