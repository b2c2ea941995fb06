// Scenario 4, durable ACK latency: 100 concurrent writers, each on its own document (so the figure is
// the durability path, not fan-out to co-editors), each in a closed loop
// (send one update, wait for the ACK that covers it, repeat). copies=1 on a single relay against the
// floor: one classic-level `batch` with `sync: true` (sequential, and 100 concurrent writers);
// copies=3 with the writers on one relay of a three-relay mesh.
import { ClassicLevel } from 'classic-level'
import * as Y from 'yjs'
import { BenchClient, openMany } from '../lib/loadgen.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { sleep, summarize } from '../lib/stats.mjs'

export const title = 'Durable ACK latency, 100 concurrent writers'
const WRITERS = 100
const DOCS = 100

async function floor(count, concurrency) {
  const db = new ClassicLevel(await tempDir('floor'), { valueEncoding: 'view' })
  await db.open()
  const value = new Uint8Array(120).fill(7)
  const latencies = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const t0 = performance.now()
        await db.batch([{ type: 'put', key: `k${i}`, value }], { sync: true })
        latencies.push(performance.now() - t0)
      }
    }),
  )
  await db.close()
  return summarize(latencies)
}

async function measure(entry, copies, seconds, ctx) {
  const latencies = []
  let stop = false
  const states = await openMany(WRITERS, async (w) => {
    const doc = new Y.Doc()
    const s = { doc, text: doc.getText('t'), pending: [], waiter: null }
    s.client = await BenchClient.open(entry, `ack-${copies}-${w % DOCS}`, {
      onAck: (n, c) => {
        if (c < copies) return
        while (s.pending.length && s.pending[0].n <= n)
          latencies.push(performance.now() - s.pending.shift().t)
        if (s.pending.length === 0) s.waiter?.()
      },
    })
    doc.on('update', (u) => s.pending.push({ t: performance.now(), n: s.client.send(u) }))
    return s
  })
  const t0 = performance.now()
  setTimeout(() => {
    stop = true
  }, seconds * 1000)
  let timeouts = 0
  await Promise.all(
    states.map(async (s) => {
      while (!stop) {
        s.text.insert(s.text.length, 'a')
        const acked = await new Promise((resolve) => {
          s.waiter = () => resolve(true)
          setTimeout(() => resolve(false), 10_000)
        })
        s.waiter = null
        if (!acked) timeouts++
      }
    }),
  )
  const wall = (performance.now() - t0) / 1000
  for (const s of states) s.client.close()
  ctx.log(`  copies=${copies}: ${latencies.length} ACKs in ${wall.toFixed(1)} s, ${timeouts} timeouts`)
  return { ...summarize(latencies), acksPerSecond: latencies.length / wall, timeouts }
}

export async function run(ctx) {
  const seconds = ctx.quick ? 3 : 10
  const floorSequential = await floor(ctx.quick ? 200 : 1000, 1)
  const floorConcurrent = await floor(ctx.quick ? 1000 : 5000, WRITERS)
  ctx.log(`  floor p50 ${floorSequential.p50.toFixed(2)} ms p99 ${floorSequential.p99.toFixed(2)} ms`)
  const results = { floorSequential, floorConcurrent }
  if (ctx.kinds(['rhizome']).length) {
    const one = await startServer('rhizome', { profile: ctx.profileFor('ackLatency', 'rhizome') })
    try {
      results.copies1 = await measure(one, 1, seconds, ctx)
    } finally {
      await one.stop()
    }
    const a = await startServer('rhizome')
    const b = await startServer('rhizome', { peers: [a.url] })
    const c = await startServer('rhizome', { peers: [a.url, b.url] })
    try {
      // The mesh is up once every relay answers healthz with its peers connected.
      for (const r of [b, c]) {
        for (let i = 0; i < 200; i++) {
          const h = await (await fetch(`${r.httpUrl}/healthz`)).json()
          if (h.peers.every((p) => p.connected) && !h.recovering) break
          await sleep(50)
        }
      }
      results.copies3 = await measure(a, 3, seconds, ctx)
    } finally {
      await Promise.all([a, b, c].map((r) => r.stop()))
    }
  }
  return { params: { writers: WRITERS, docs: DOCS, seconds }, results }
}
