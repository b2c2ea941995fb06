// Scenario 8, the HTTP document API and webhooks (docs/PROTOCOL.md section 10).
// 1. `POST /docs/<name>?copies=1` round trip: N writers in closed loops over keep-alive connections,
//    each on its own document (send one Yjs update, wait for `{"copies":1}`, repeat), beside the floor
//    measured in the same run: one classic-level `put` of the same size with `sync: true`
//    (sequential, and N concurrent). Afterwards documents are read back with `GET /docs/<name>`.
// 2. Webhooks under 1,000 changes/s: an open loop of 1,000 POSTs/s spread over 1,000 documents (each
//    changed once a second, the webhook's debounce), first on a relay without `--webhook`, then on one
//    with `--webhook` pointing at a local receiver. Delivery latency is the receipt time minus the
//    time the change's POST was answered (and, beside it, sent); the ACK latencies of the two runs
//    show whether delivering webhooks delays ACKs.
// No peer server offers HTTP document writes to compare with (see PEER_NOTE).
import { ClassicLevel } from 'classic-level'
import * as Y from 'yjs'
import { getDoc, keepAliveAgent, postUpdate } from '../lib/docApiClient.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { sleep, summarize, watchOwnLoop, watchProcess } from '../lib/stats.mjs'
import { epochNow, startWebhookReceiver } from '../lib/webhookReceiver.mjs'

export const title = 'HTTP document API (POST /docs) and webhook delivery'

/** Why the table has no peer figure for HTTP writes. */
export const PEER_NOTE =
  'none installed here: @y/websocket-server and Hocuspocus have no HTTP document write API; y-sweet (which has one) ships its server as a native binary that cannot be installed here'

const WEBHOOK_SECRET = 'rhizome-bench-webhook-secret-7a3c'
/** Changes per second offered in the webhook runs, and the documents they are spread over. */
const RATE = 1000
const RATE_DOCS = 1000
/** Keep-alive connections of the open loop; a POST due while all are busy waits in the agent. */
const RATE_SOCKETS = 64
/** Documents read back with GET after the closed loop. */
const READ_BACK = 20

/** One document written over HTTP: a local Y.Doc whose next edit is the next POST's body. */
function writer(name) {
  const doc = new Y.Doc()
  const text = doc.getText('t')
  let last = null
  doc.on('update', (u) => {
    last = u
  })
  return {
    name,
    text,
    /** Answered changes: `sentAt`/`ackAt` in ms since the epoch. */
    changes: [],
    chain: Promise.resolve(),
    next() {
      text.insert(text.length, 'a')
      return last
    },
  }
}

async function floor(bytes, count, concurrency) {
  const db = new ClassicLevel(await tempDir('http-floor'), { valueEncoding: 'view' })
  await db.open()
  const value = new Uint8Array(bytes).fill(7)
  const latencies = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const t0 = performance.now()
        await db.put(`k${i}`, value, { sync: true })
        latencies.push(performance.now() - t0)
      }
    }),
  )
  await db.close()
  return summarize(latencies)
}

async function closedLoop(server, writers, seconds, ctx) {
  const agent = keepAliveAgent(writers)
  const ws = Array.from({ length: writers }, (_, i) => writer(`http-closed-${i}`))
  const latencies = []
  let failures = 0
  let bytes = 0
  const t0 = performance.now()
  const stopAt = t0 + seconds * 1000
  await Promise.all(
    ws.map(async (w) => {
      while (performance.now() < stopAt) {
        const body = w.next()
        bytes += body.length
        const s = performance.now()
        const r = await postUpdate(agent, server.httpUrl, w.name, body, 1).catch(() => ({ status: 0 }))
        if (r.status === 200 && r.copies >= 1) latencies.push(performance.now() - s)
        else failures++
      }
    }),
  )
  const wall = (performance.now() - t0) / 1000
  // What was answered durable reads back, exactly, over GET.
  let readBackMismatches = 0
  for (const w of ws.slice(0, READ_BACK)) {
    const r = await getDoc(agent, server.httpUrl, w.name)
    const d = new Y.Doc()
    if (r.status === 200) Y.applyUpdate(d, r.update)
    if (d.getText('t').toString() !== w.text.toString()) readBackMismatches++
  }
  agent.destroy()
  const count = latencies.length + failures
  ctx.log(
    `  closed loop: ${latencies.length} POSTs in ${wall.toFixed(1)} s from ${writers} writers, ${failures} failed, ${readBackMismatches} GET mismatches`,
  )
  return {
    ...summarize(latencies),
    requestsPerSecond: latencies.length / wall,
    failures,
    readBackMismatches,
    meanBodyBytes: count ? bytes / count : 0,
  }
}

/** One change of `w`, due at `due` (performance.now()); records its ACK latency from `due`. */
async function change(agent, server, w, due, out) {
  const body = w.next()
  const sentAt = epochNow()
  const r = await postUpdate(agent, server.httpUrl, w.name, body, 1).catch(() => ({ status: 0 }))
  if (r.status === 200 && r.copies >= 1) {
    out.ackMs.push(performance.now() - due)
    w.changes.push({ sentAt, ackAt: epochNow() })
  } else {
    out.failures++
  }
}

/** RATE POSTs/s over RATE_DOCS documents for `seconds`, each document changed once per period. */
async function openLoop(server, tag, seconds) {
  const agent = keepAliveAgent(RATE_SOCKETS)
  const ws = Array.from({ length: RATE_DOCS }, (_, i) => writer(`http-${tag}-${i}`))
  const out = { ackMs: [], failures: 0 }
  const total = RATE * seconds
  const ownLoop = watchOwnLoop()
  const relayProcess = watchProcess(server.pid)
  const t0 = performance.now()
  let i = 0
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now()
      while (i < total && t0 + (i * 1000) / RATE <= now) {
        const due = t0 + (i * 1000) / RATE
        const w = ws[i % RATE_DOCS]
        // One change per document in flight, as an app would write: a change due while the last one
        // is unanswered waits for it, and its latency counts from when it was due.
        w.chain = w.chain.then(() => change(agent, server, w, due, out))
        i++
      }
      if (i < total) setTimeout(tick, 1)
      else resolve()
    }
    tick()
  })
  await Promise.all(ws.map((w) => w.chain))
  const wall = (performance.now() - t0) / 1000
  const relayCpuPercent = relayProcess.stop().cpuPercent
  agent.destroy()
  return {
    writers: ws,
    relayCpuPercent,
    ack: summarize(out.ackMs),
    offered: total,
    failures: out.failures,
    achievedPerSecond: out.ackMs.length / wall,
    loadGeneratorLoop: ownLoop(),
  }
}

/**
 * Maps each delivery to the changes it announces: those of its document, in order, not yet
 * announced, sent no later than its `at` (the relay's time the newest of them became durable; one
 * change per document is in flight, so a later change was sent after `at`).
 */
function attribute(writers, deliveries) {
  const byDoc = new Map(writers.map((w) => [w.name, { w, next: 0 }]))
  const fromAck = []
  const fromSend = []
  let empty = 0
  let foreign = 0
  for (const d of [...deliveries].sort((a, b) => a.receivedAt - b.receivedAt)) {
    const e = byDoc.get(d.doc)
    if (!e) {
      foreign++
      continue
    }
    const start = e.next
    while (e.next < e.w.changes.length && Math.floor(e.w.changes[e.next].sentAt) <= d.at) {
      const c = e.w.changes[e.next++]
      fromAck.push(d.receivedAt - c.ackAt)
      fromSend.push(d.receivedAt - c.sentAt)
    }
    if (e.next === start) empty++
  }
  let unannounced = 0
  for (const e of byDoc.values()) unannounced += e.w.changes.length - e.next
  return { fromAck, fromSend, empty, foreign, unannounced }
}

async function webhookMetrics(server) {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text()
  const value = (re) => Number(re.exec(text)?.[1] ?? 0)
  return {
    ok: value(/^rhizome_webhook_deliveries_total\{result="ok"\} (\S+)/m),
    retry: value(/^rhizome_webhook_deliveries_total\{result="retry"\} (\S+)/m),
    failed: value(/^rhizome_webhook_deliveries_total\{result="failed"\} (\S+)/m),
    dropped: value(/^rhizome_webhook_dropped_total (\S+)/m),
  }
}

async function withoutWebhook(seconds, ctx) {
  const relay = await startServer('rhizome')
  try {
    const r = await openLoop(relay, 'plain', seconds)
    ctx.log(
      `  ${RATE}/s without --webhook: ${r.ack.count} of ${r.offered} answered (${r.achievedPerSecond.toFixed(0)}/s), ACK p50 ${r.ack.p50.toFixed(1)} ms p99 ${r.ack.p99.toFixed(1)} ms, relay CPU ${r.relayCpuPercent.toFixed(0)} %, load generator loop p99 ${r.loadGeneratorLoop.p99Ms.toFixed(0)} ms`,
    )
    const { writers: _, ...rest } = r
    return rest
  } finally {
    await relay.stop()
  }
}

async function withWebhook(seconds, ctx) {
  const receiver = await startWebhookReceiver(WEBHOOK_SECRET)
  const relay = await startServer('rhizome', {
    args: ['--webhook', receiver.url, '--webhook-secret', WEBHOOK_SECRET],
  })
  // The receiver shares this process with the load generator: its event-loop delay until the last
  // delivery tells a slow receiver from a slow sender.
  const ownLoop = watchOwnLoop()
  try {
    const r = await openLoop(relay, 'hook', seconds)
    // The last changes are announced one debounce window (1 s) later, or later still behind a
    // backlog of deliveries: wait while deliveries keep arriving, give up once they stall.
    const hardDeadline = performance.now() + 60_000
    let lastProgress = performance.now()
    let seen = receiver.deliveries.length
    let a = attribute(r.writers, receiver.deliveries)
    while (a.unannounced > 0 && performance.now() < hardDeadline && performance.now() - lastProgress < 5000) {
      await sleep(100)
      if (receiver.deliveries.length > seen) {
        seen = receiver.deliveries.length
        lastProgress = performance.now()
      }
      a = attribute(r.writers, receiver.deliveries)
    }
    const receiverLoop = ownLoop()
    const metrics = await webhookMetrics(relay)
    const times = receiver.deliveries.map((d) => d.receivedAt)
    const span = times.length > 1 ? (Math.max(...times) - Math.min(...times)) / 1000 : Number.NaN
    const result = {
      ack: r.ack,
      offered: r.offered,
      failures: r.failures,
      achievedPerSecond: r.achievedPerSecond,
      loadGeneratorLoop: r.loadGeneratorLoop,
      relayCpuPercent: r.relayCpuPercent,
      receiverLoop,
      deliveries: receiver.deliveries.length,
      deliveriesPerSecond: receiver.deliveries.length / span,
      latencyFromAck: summarize(a.fromAck),
      latencyFromSend: summarize(a.fromSend),
      announcedChanges: a.fromAck.length,
      unannounced: a.unannounced,
      emptyDeliveries: a.empty,
      foreignDeliveries: a.foreign,
      badSignatures: receiver.badSignatures,
      relayMetrics: metrics,
    }
    ctx.log(
      `  ${RATE}/s with --webhook: ${r.ack.count} of ${r.offered} answered (${r.achievedPerSecond.toFixed(0)}/s), ACK p50 ${r.ack.p50.toFixed(1)} ms p99 ${r.ack.p99.toFixed(1)} ms, relay CPU ${r.relayCpuPercent.toFixed(0)} %; ${result.deliveries} deliveries (${result.deliveriesPerSecond.toFixed(0)}/s), latency from ACK p50 ${result.latencyFromAck.p50.toFixed(0)} ms p99 ${result.latencyFromAck.p99.toFixed(0)} ms, ${a.unannounced} changes unannounced, receiver loop p99 ${receiverLoop.p99Ms.toFixed(0)} ms, ${receiver.badSignatures} bad signatures, relay ${JSON.stringify(metrics)}`,
    )
    return result
  } finally {
    await relay.stop()
    await receiver.close()
  }
}

export async function run(ctx) {
  const writers = ctx.quick ? 20 : 100
  const seconds = ctx.quick ? 2 : 10
  const params = {
    writers,
    closedLoopSeconds: seconds,
    rate: RATE,
    rateDocs: RATE_DOCS,
    rateSeconds: seconds,
  }
  if (!ctx.kinds(['rhizome']).length) return { params, results: {} }
  const relay = await startServer('rhizome', { profile: ctx.profileFor('httpApi', 'rhizome') })
  let closed
  try {
    closed = await closedLoop(relay, writers, seconds, ctx)
  } finally {
    await relay.stop()
  }
  const bytes = Math.round(closed.meanBodyBytes)
  const floorSequential = await floor(bytes, ctx.quick ? 200 : 1000, 1)
  const floorConcurrent = await floor(bytes, ctx.quick ? 1000 : 5000, writers)
  ctx.log(
    `  floor (${bytes} B put, sync) p50 ${floorSequential.p50.toFixed(2)} ms p99 ${floorSequential.p99.toFixed(2)} ms`,
  )
  const plain = await withoutWebhook(seconds, ctx)
  const hooked = await withWebhook(seconds, ctx)
  const correct =
    closed.count > 0 &&
    closed.failures === 0 &&
    closed.readBackMismatches === 0 &&
    plain.failures === 0 &&
    hooked.failures === 0 &&
    hooked.badSignatures === 0 &&
    hooked.foreignDeliveries === 0 &&
    hooked.deliveries > 0 &&
    hooked.unannounced === 0
  return {
    params: { ...params, bodyBytes: bytes },
    results: { closed, floorSequential, floorConcurrent, plain, hooked, peer: PEER_NOTE, correct },
  }
}
