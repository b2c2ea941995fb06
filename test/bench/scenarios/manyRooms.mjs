// Scenario 2, many rooms: D documents x 3 clients (one writer, two readers). Every writer sends at
// the same fixed rate; the rate steps up until the p99 writer-to-reader latency passes 50 ms (or the
// load generator cannot send faster). Figures: the highest total rate held with p99 <= 50 ms, and
// RSS per active document (RSS with all rooms connected minus before, per room).
import * as Y from 'yjs'
import { BenchClient, openMany, updateKey } from '../lib/loadgen.mjs'
import { startServer } from '../lib/servers.mjs'
import { memory, sleep, summarize } from '../lib/stats.mjs'

export const title = 'Many rooms: D docs x 3 clients, rate ramped until p99 > 50 ms'
const P99_LIMIT_MS = 50

async function runOne(kind, docs, rates, stepSeconds, ctx) {
  const server = await startServer(kind, {
    args: ['--max-connections-per-ip', '100000'],
    profile: ctx.profileFor('manyRooms', kind),
  })
  try {
    await sleep(500)
    const rssBefore = memory(server.pid).rss
    const sentAt = new Map()
    let latencies = []
    const onUpdate = (u, k) => {
      if (k !== 'update') return
      const t = sentAt.get(updateKey(u))
      if (t !== undefined) latencies.push(performance.now() - t)
    }
    const rooms = await openMany(
      docs,
      async (i) => {
        const name = `room-${i}`
        const readers = [
          await BenchClient.open(server, name, { onUpdate }),
          await BenchClient.open(server, name, { onUpdate }),
        ]
        const writer = await BenchClient.open(server, name)
        const doc = new Y.Doc()
        doc.clientID = 10_000 + i
        doc.on('update', (u) => {
          sentAt.set(updateKey(u), performance.now())
          writer.send(u)
        })
        return { readers, writer, doc, text: doc.getText('t') }
      },
      20,
    )
    await sleep(1000)
    const rssActive = memory(server.pid).rss
    const steps = []
    let reached = 0
    for (const rate of rates) {
      latencies = []
      sentAt.clear()
      let sent = 0
      const target = rate * docs
      const t0 = performance.now()
      let next = 0
      while (performance.now() - t0 < stepSeconds * 1000) {
        const due = Math.floor(((performance.now() - t0) / 1000) * target)
        while (sent < due) {
          const room = rooms[next]
          next = (next + 1) % docs
          room.text.insert(room.text.length, 'x')
          sent++
        }
        await sleep(5)
      }
      const elapsed = (performance.now() - t0) / 1000
      await sleep(300)
      const s = summarize(latencies)
      const achieved = sent / elapsed
      steps.push({ perWriter: rate, target, achieved, p50: s.p50, p99: s.p99, samples: s.count })
      ctx.log(`    ${kind} ${target}/s: sent ${achieved.toFixed(0)}/s, p99 ${s.p99.toFixed(1)} ms`)
      if (!(s.p99 <= P99_LIMIT_MS) || achieved < target * 0.9) break
      reached = achieved
    }
    for (const r of rooms) for (const c of [r.writer, ...r.readers]) c.close()
    return {
      kind,
      maxRate: reached,
      steps,
      rssPerActiveDocKB: (rssActive - rssBefore) / 1024 / docs,
      rssActiveMB: rssActive / 2 ** 20,
    }
  } finally {
    await server.stop()
  }
}

export async function run(ctx) {
  const docs = ctx.quick ? 30 : 500
  const rates = ctx.quick ? [2, 8] : [1, 2, 4, 8, 16, 32, 64]
  const stepSeconds = ctx.quick ? 1.5 : 3
  const results = {}
  for (const kind of ctx.kinds(['rhizome', 'yws-leveldb', 'yws', 'hocuspocus'])) {
    results[kind] = await runOne(kind, docs, rates, stepSeconds, ctx)
  }
  return { params: { docs, clientsPerDoc: 3, rates, stepSeconds, p99LimitMs: P99_LIMIT_MS }, results }
}
