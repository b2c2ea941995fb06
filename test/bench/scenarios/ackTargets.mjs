// Scenario 4b, the durable-ACK targets (each against a peer or floor measured in the same run):
// 1. One writer, closed loop (edit, wait for the ACK with copies >= 1, repeat) on one relay, against
//    one classic-level `put` with `sync: true` measured just before on the same file system:
//    ACK p99 <= 2x the put's p99.
// 2. 50 writers in closed loops, each on its own document with a reader socket beside it: edit, wait
//    until the reader has the update AND (Rhizome) the ACK with copies >= 1 has arrived, repeat.
//    Against @y/websocket-server (memory) on the same loop without the ACK (it has no durability):
//    Rhizome's round trips/s >= the peer's.
// 3. One writer on relay A of a three-relay mesh: the ACK with copies >= 3 minus the ACK with
//    copies >= 1 of the same edits, against a mesh round trip measured on the same mesh (an update
//    written on A reaches a reader on B, whose reply reaches the writer on A) plus the put floor.
import { ClassicLevel } from 'classic-level'
import * as Y from 'yjs'
import { BenchClient, openMany, updateKey } from '../lib/loadgen.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { sleep, summarize } from '../lib/stats.mjs'

export const title = 'Durable ACK targets: one writer vs fsync, 50 writer/reader loops, mesh overhead'
/** Writer/reader pairs of the round-trip target (issue 5/6: 50). */
const PAIRS = 50
/** A round trip (or ACK) not completed within this is counted as a timeout and the loop goes on. */
const WAIT_MS = 10_000

/**
 * A classic-level database for the floor: `put()` times one `put` of `bytes` with `sync: true` and
 * keeps its latency; `close()` resolves the summary of all of them.
 */
async function putFloor(bytes = 120) {
  const db = new ClassicLevel(await tempDir('ack-floor'), { valueEncoding: 'view' })
  await db.open()
  const value = new Uint8Array(bytes).fill(7)
  const latencies = []
  return {
    async put() {
      const t0 = performance.now()
      await db.put(`k${latencies.length}`, value, { sync: true })
      latencies.push(performance.now() - t0)
    },
    async close() {
      await db.close()
      return summarize(latencies)
    },
  }
}

/** Resolves `true` when `arm(resolve)` resolves it, `false` after `ms`. */
function within(ms, arm) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    arm(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/**
 * One writer on `server`, `count` sequential edits; for each edit the time until an ACK covering it
 * reports at least each of `levels` copies. Before each edit one floor put runs, so edits and puts
 * sample the same moments of a shared machine's load. Resolves `{ [level]: summary }`, `floor`
 * (summary of the puts) and `timeouts`.
 */
async function singleWriter(server, name, count, levels) {
  const floor = await putFloor()
  const doc = new Y.Doc()
  const text = doc.getText('t')
  const times = Object.fromEntries(levels.map((l) => [l, []]))
  let current = null
  const client = await BenchClient.open(server, name, {
    onAck: (n, copies) => {
      if (!current || n < current.n) return
      for (const l of levels) {
        if (copies >= l && current.at[l] === undefined) current.at[l] = performance.now() - current.t
      }
      if (levels.every((l) => current.at[l] !== undefined)) current.done?.()
    },
  })
  doc.on('update', (u) => {
    current = { t: performance.now(), n: 0, at: {}, done: null }
    current.n = client.send(u)
  })
  let timeouts = 0
  for (let i = 0; i < count; i++) {
    await floor.put()
    const ok = await within(WAIT_MS, (done) => {
      text.insert(text.length, 'a')
      current.done = done
    })
    if (!ok) timeouts++
    for (const l of levels) if (current.at[l] !== undefined) times[l].push(current.at[l])
  }
  client.close()
  return {
    ...Object.fromEntries(levels.map((l) => [l, summarize(times[l])])),
    floor: await floor.close(),
    timeouts,
  }
}

/**
 * Opens `PAIRS` writer/reader pairs on `server`. `window(seconds)` runs every pair's closed loop for
 * that long; with `ack`, a round trip also waits for the writer's ACK with copies >= 1. `close()`
 * closes the sockets and resolves round trips/s over all windows, their latencies, each leg apart
 * (reader, ACK) and the rate of each window.
 */
async function openPairs(server, ack) {
  const latencies = []
  // Each leg of a round trip apart: what delays the loop, the fan-out or the ACK.
  const reads = []
  const acks = []
  const windows = []
  let timeouts = 0
  const pairs = await openMany(PAIRS, async (i) => {
    const name = `rt-${server.kind}-${i}`
    const doc = new Y.Doc()
    const p = { text: doc.getText('t'), key: null, seen: false, acked: !ack, n: 0, check: null }
    p.reader = await BenchClient.open(server, name, {
      onUpdate: (u, kind) => {
        if (kind === 'update' && updateKey(u) === p.key) {
          p.seen = true
          p.seenAt = performance.now()
          p.check?.()
        }
      },
    })
    p.writer = await BenchClient.open(server, name, {
      onAck: ack
        ? (n) => {
            if (n >= p.n) {
              p.acked = true
              p.ackAt = performance.now()
              p.check?.()
            }
          }
        : null,
    })
    doc.on('update', (u) => {
      p.key = updateKey(u)
      p.seen = false
      p.acked = !ack
      p.n = p.writer.send(u)
    })
    return p
  })
  /** `warmUp`: runs the loops but keeps nothing (first sockets, JIT, documents being created). */
  const window = async (seconds, warmUp = false) => {
    let stop = false
    const before = latencies.length
    const t0 = performance.now()
    const timer = setTimeout(() => {
      stop = true
    }, seconds * 1000)
    await Promise.all(
      pairs.map(async (p) => {
        while (!stop) {
          const s = performance.now()
          const ok = await within(WAIT_MS, (done) => {
            p.check = () => {
              if (p.seen && p.acked) done()
            }
            p.text.insert(p.text.length, 'a')
          })
          p.check = null
          if (ok) {
            latencies.push(performance.now() - s)
            reads.push(p.seenAt - s)
            if (ack) acks.push(p.ackAt - s)
          } else timeouts++
        }
      }),
    )
    clearTimeout(timer)
    if (warmUp) {
      latencies.length = before
      reads.length = Math.min(reads.length, before)
      acks.length = Math.min(acks.length, before)
      timeouts = 0
      return
    }
    windows.push({ seconds: (performance.now() - t0) / 1000, roundTrips: latencies.length - before })
  }
  const close = () => {
    for (const p of pairs) {
      p.reader.close()
      p.writer.close()
    }
    const wall = windows.reduce((a, w) => a + w.seconds, 0)
    return {
      roundTripsPerSecond: latencies.length / wall,
      windowRates: windows.map((w) => Math.round(w.roundTrips / w.seconds)),
      ...summarize(latencies),
      reader: summarize(reads),
      ack: ack ? summarize(acks) : null,
      timeouts,
    }
  }
  return { window, close }
}

/**
 * Mesh round trip: a writer on `a` edits, an echo client on `b` answers each edit it receives with
 * an edit of its own, and the time until that answer reaches the writer is one round trip through
 * the mesh (A -> B and B -> A, plus the client legs on each side). Also resolves `oneWay`: A -> B
 * alone (the writer's edit reaching the reader on B).
 */
async function meshRoundTrip(a, b, count) {
  const name = 'mesh-rtt'
  const wdoc = new Y.Doc()
  const edoc = new Y.Doc()
  let waitKey = null
  let done = null
  let echo = null
  let answered = null
  let sentAt = 0
  // A -> B alone: the writer's edit reaching the reader on B (the same process keeps both clocks).
  const oneWay = []
  const writer = await BenchClient.open(a, name, {
    onUpdate: (u, kind) => {
      if (kind === 'update' && updateKey(u) === waitKey) done?.()
    },
  })
  echo = await BenchClient.open(b, name, {
    onUpdate: (u, kind) => {
      const key = updateKey(u)
      // One answer per edit of the writer, however many paths of the mesh deliver it.
      if (kind !== 'update' || key?.startsWith(`s${edoc.clientID}:`) || key === answered) return
      answered = key
      oneWay.push(performance.now() - sentAt)
      edoc.getText('e').insert(0, 'b')
    },
  })
  edoc.on('update', (u) => {
    waitKey = updateKey(u)
    echo.send(u)
  })
  wdoc.on('update', (u) => writer.send(u))
  const times = []
  let timeouts = 0
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    sentAt = t0
    const ok = await within(WAIT_MS, (resolve) => {
      done = resolve
      wdoc.getText('t').insert(0, 'a')
    })
    done = null
    if (ok) times.push(performance.now() - t0)
    else timeouts++
  }
  writer.close()
  echo.close()
  return { ...summarize(times), oneWay: summarize(oneWay), timeouts }
}

/** The relay's group-commit histogram totals from /metrics: commits so far and their summed seconds. */
async function commitMetrics(relay) {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { count: value('rhizome_commit_seconds_count'), sumSeconds: value('rhizome_commit_seconds_sum') }
}

/** Resolves once each relay that dials peers reports them all connected and no recovery running. */
async function meshReady(relays) {
  const deadline = Date.now() + 30_000
  for (const r of relays) {
    for (;;) {
      const h = await (await fetch(`${r.httpUrl}/healthz`)).json()
      if (h.peers.length > 0 && h.peers.every((p) => p.connected) && !h.recovering) break
      if (Date.now() > deadline) throw new Error(`mesh not ready: ${JSON.stringify(h)}`)
      await sleep(50)
    }
  }
}

export async function run(ctx) {
  const q = ctx.quick
  const params = {
    singleWriterEdits: q ? 200 : 1000,
    pairs: PAIRS,
    // Rhizome's and the peer's windows alternate, so both see the same load of a shared machine.
    roundTripWindows: q ? 2 : 5,
    roundTripWindowSeconds: q ? 1 : 2,
    meshEdits: q ? 100 : 500,
    meshRoundTrips: q ? 50 : 300,
  }
  const results = {}
  const rhizome = ctx.kinds(['rhizome']).length > 0
  const yws = ctx.kinds(['yws']).length > 0
  if (rhizome) {
    const one = await startServer('rhizome', { profile: ctx.profileFor('ackTargets', 'rhizome') })
    try {
      const r = await singleWriter(one, 'single-writer', params.singleWriterEdits, [1])
      results.singleWriter = { ...r[1], timeouts: r.timeouts }
      results.putFloor = r.floor
      ctx.log(
        `  one writer copies=1 p50 ${r[1].p50.toFixed(2)} ms p99 ${r[1].p99.toFixed(2)} ms (${r.timeouts} timeouts); put sync:true p50 ${r.floor.p50.toFixed(2)} ms p99 ${r.floor.p99.toFixed(2)} ms`,
      )
    } finally {
      await one.stop()
    }
  }
  const servers = []
  try {
    if (rhizome)
      servers.push(await startServer('rhizome', { profile: ctx.profileFor('ackTargets', 'rhizome') }))
    if (yws) servers.push(await startServer('yws'))
    const loops = []
    for (const server of servers) loops.push(await openPairs(server, server.kind === 'rhizome'))
    for (const l of loops) await l.window(params.roundTripWindowSeconds / 2, true)
    const commits0 = rhizome ? await commitMetrics(servers[0]) : null
    for (let w = 0; w < params.roundTripWindows; w++) {
      for (const l of loops) await l.window(params.roundTripWindowSeconds)
    }
    if (rhizome) {
      // Group commits of the relay during its windows: how many round trips share one fsync, and
      // how long one takes, beside the put floor.
      const c1 = await commitMetrics(servers[0])
      const commits = c1.count - commits0.count
      results.rhizomeCommits = {
        commits,
        meanMs: commits > 0 ? ((c1.sumSeconds - commits0.sumSeconds) * 1000) / commits : Number.NaN,
      }
    }
    servers.forEach((server, i) => {
      const rt = loops[i].close()
      results[server.kind === 'rhizome' ? 'rhizomeRoundTrips' : 'ywsRoundTrips'] = rt
      if (server.kind === 'rhizome') {
        const c = results.rhizomeCommits
        ctx.log(
          `  rhizome group commits: ${c.commits} (${(rt.count / c.commits).toFixed(1)} round trips each), mean ${c.meanMs.toFixed(2)} ms`,
        )
      }
      ctx.log(
        `  ${server.kind} ${PAIRS} pairs: ${rt.roundTripsPerSecond.toFixed(0)} round trips/s (windows ${rt.windowRates.join(', ')}); p50/p99 ${rt.p50.toFixed(2)}/${rt.p99.toFixed(2)} ms; reader ${rt.reader.p50.toFixed(2)}/${rt.reader.p99.toFixed(2)} ms${rt.ack ? `; ACK ${rt.ack.p50.toFixed(2)}/${rt.ack.p99.toFixed(2)} ms` : ''}`,
      )
    })
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
  }
  if (rhizome) {
    const a = await startServer('rhizome')
    const b = await startServer('rhizome', { peers: [a.url] })
    const c = await startServer('rhizome', { peers: [a.url, b.url] })
    try {
      await meshReady([b, c])
      const m = await singleWriter(a, 'mesh-writer', params.meshEdits, [1, 3])
      results.mesh = { copies1: m[1], copies3: m[3], timeouts: m.timeouts }
      results.meshFloor = m.floor
      results.meshRoundTrip = await meshRoundTrip(a, b, params.meshRoundTrips)
    } finally {
      await Promise.all([a, b, c].map((r) => r.stop()))
    }
    const { copies1, copies3 } = results.mesh
    const f = results.meshFloor
    const rtt = results.meshRoundTrip
    ctx.log(
      `  mesh copies=1 p50/p99 ${copies1.p50.toFixed(2)}/${copies1.p99.toFixed(2)} ms, copies=3 ${copies3.p50.toFixed(2)}/${copies3.p99.toFixed(2)} ms; round trip ${rtt.p50.toFixed(2)}/${rtt.p99.toFixed(2)} ms (A->B alone ${rtt.oneWay.p50.toFixed(2)}/${rtt.oneWay.p99.toFixed(2)} ms); put ${f.p50.toFixed(2)}/${f.p99.toFixed(2)} ms`,
    )
  }
  return { params, results }
}
