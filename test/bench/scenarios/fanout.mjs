// Scenario 1, fan-out: one document, N readers, 4 writers. Writer 0 replays the B4 trace as
// individual updates into text `t`; writers 1-3 type into text `t2`. All send as fast as a shared
// in-flight window (updates sent but not yet seen by the slowest reader) allows. Figures: updates/s
// delivered to every reader, end-to-end latency of sampled updates, server CPU and RSS.
// Servers may merge updates before broadcasting (Hocuspocus batches per tick), so progress is
// counted in units (inserted + deleted characters) decoded from reader 0's frames; every reader gets
// the same frame sequence, so a reader that has seen k frames has seen reader 0's first k.
// Correctness: every reader received the same multiset of updates, and replaying one reader's
// stream gives exactly the trace text (string replay, independent of Yjs) and the typed text.
import * as Y from 'yjs'
import { eventually } from '../../support/poll.mjs'
import { BenchClient, fnv, openMany, updateKey } from '../lib/loadgen.mjs'
import { startServer } from '../lib/servers.mjs'
import { summarize, watchOwnLoop, watchProcess } from '../lib/stats.mjs'
import { expectedText, traceUpdates } from '../lib/trace.mjs'

export const title = 'Fan-out: 1 doc, 4 writers (B4 trace + 3 typists), N readers'

function typist(clientID, count) {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const text = doc.getText('t2')
  const updates = []
  doc.on('update', (u) => updates.push(u))
  const word = `typist-${clientID} `
  for (let i = 0; i < count; i++) text.insert(text.length, word[i % word.length])
  return { updates, doc }
}

/** Inserted plus deleted characters of an update (merged or not). */
function updateUnits(update) {
  const { structs, ds } = Y.decodeUpdate(update)
  let n = 0
  for (const s of structs) if (!(s instanceof Y.Skip)) n += s.length
  for (const ranges of ds.clients.values()) for (const r of ranges) n += r.len
  return n
}

async function runOne(kind, work, ctx) {
  const { streams, units, total, totalUnits, readersCount, window, sampleEvery } = work
  const server = await startServer(kind, {
    args: ['--rate-messages', '0', '--rate-bytes', '0', '--max-connections-per-ip', '100000'],
    profile: ctx.profileFor('fanout', kind),
  })
  try {
    const sentAt = new Map()
    const latencies = []
    let waiter = null
    const wake = () => {
      if (waiter) {
        const w = waiter
        waiter = null
        w()
      }
    }
    const readers = await openMany(readersCount, async (r) => {
      const state = { count: 0, h1: 0, h2: 0, frames: r === 0 ? [] : null, cum: r === 0 ? [] : null }
      state.client = await BenchClient.open(server, 'fanout', {
        onUpdate: (u, kindOf) => {
          if (kindOf === 'step2') return
          state.count++
          state.h1 = (state.h1 + fnv(u, 2166136261)) >>> 0
          state.h2 = (state.h2 + fnv(u, 0x9747b28c)) >>> 0
          if (state.frames) {
            state.frames.push(u)
            const prev = state.cum.length ? state.cum[state.cum.length - 1] : 0
            state.cum.push(prev + updateUnits(u))
          }
          const key = updateKey(u)
          const t = key && sentAt.get(key)
          if (t !== undefined && t !== null && t !== 0) latencies.push(performance.now() - t)
          if (r === 0 || state.count % 64 === 0) wake()
        },
      })
      return state
    })
    const writers = await openMany(streams.length, () => BenchClient.open(server, 'fanout'))
    const cum = readers[0].cum
    const minDelivered = () => {
      let m = Number.POSITIVE_INFINITY
      for (const r of readers) if (r.count < m) m = r.count
      return m === 0 ? 0 : cum[m - 1]
    }
    let sent = 0
    const loop = watchOwnLoop()
    const watch = watchProcess(server.pid)
    const t0 = performance.now()
    await Promise.all(
      streams.map(async (updates, w) => {
        const ws = writers[w]
        for (let i = 0; i < updates.length; i++) {
          while (sent - minDelivered() >= window || ws.bufferedAmount > 1 << 20) {
            await new Promise((r) => {
              waiter = r
              setTimeout(r, 5)
            })
          }
          const u = updates[i]
          if (i % sampleEvery === 0) sentAt.set(updateKey(u), performance.now())
          ws.send(u)
          sent += units[w][i]
          if (sent % 32 === 0) await new Promise((r) => setImmediate(r))
        }
      }),
    )
    await eventually(() => minDelivered() >= totalUnits, {
      timeout: 600_000,
      interval: 20,
      what: `${kind}: readers to get ${totalUnits} units`,
    })
    const seconds = (performance.now() - t0) / 1000
    const proc = watch.stop()
    const client = loop()
    // Correctness: same multiset of updates on every reader, and the content is exact.
    const ref = readers[0]
    const sameStreams = readers.every((r) => r.count === ref.count && r.h1 === ref.h1 && r.h2 === ref.h2)
    const doc = new Y.Doc()
    doc.transact(() => {
      for (const u of ref.frames) Y.applyUpdate(doc, u)
    })
    const traceOk = doc.getText('t').toString() === work.expectedT
    const typedOk = doc.getText('t2').toString() === work.expectedT2
    for (const c of [...readers.map((r) => r.client), ...writers]) c.close()
    return {
      kind,
      updates: total,
      framesPerReader: readers[0].count,
      seconds,
      updatesPerSecond: total / seconds,
      deliveriesPerSecond: (total * readersCount) / seconds,
      latencyMs: summarize(latencies),
      server: { cpuPercent: proc.cpuPercent, maxRssMB: proc.maxRss / 2 ** 20 },
      loadgen: client,
      correct: sameStreams && traceOk && typedOk,
      checks: { sameStreams, traceOk, typedOk, readers: readersCount },
    }
  } finally {
    await server.stop()
  }
}

export async function run(ctx) {
  const edits = ctx.full ? 259_778 : ctx.quick ? 2_000 : 50_000
  const readersCount = ctx.quick ? 10 : 40
  const typed = Math.round(edits / 10)
  const trace = traceUpdates(edits, { clientID: 1 })
  const typists = [2, 3, 4].map((id) => typist(id, typed))
  const ref = new Y.Doc()
  for (const t of typists) Y.applyUpdate(ref, Y.encodeStateAsUpdate(t.doc))
  const streams = [trace.updates, ...typists.map((t) => t.updates)]
  const units = streams.map((list) => list.map(updateUnits))
  const work = {
    streams,
    units,
    totalUnits: units.flat().reduce((a, b) => a + b, 0),
    total: streams.reduce((s, list) => s + list.length, 0),
    readersCount,
    window: 256,
    sampleEvery: ctx.quick ? 10 : 50,
    expectedT: expectedText(edits),
    expectedT2: ref.getText('t2').toString(),
  }
  const results = {}
  for (const kind of ctx.kinds(['rhizome', 'yws-leveldb', 'yws', 'hocuspocus'])) {
    ctx.log(`  fan-out on ${kind}...`)
    results[kind] = await runOne(kind, work, ctx)
    const r = results[kind]
    ctx.log(
      `    ${r.updatesPerSecond.toFixed(0)} updates/s, p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, correct=${r.correct}`,
    )
  }
  return {
    params: { edits, typedPerTypist: typed, readers: readersCount, writers: 4, window: work.window },
    results,
  }
}
