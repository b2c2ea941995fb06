// Device sync (issue "3/6 Whole replicas on every device"): one device replicates a namespace of N
// small documents (10,000; BENCH_QUICK=1: 300) that the servers already hold. Rhizome: a replica of
// `notes/**` over one session to each of 3 relays. Against: N stock y-websocket WebsocketProviders
// on @y/websocket-server (+ y-leveldb), one socket each, and N HocuspocusProviders multiplexed over
// one HocuspocusProviderWebsocket on Hocuspocus + SQLite. Measured per client, each device in its
// own process: time to the first full replica, then, after 10 documents changed while it was
// offline, catch-up time and bytes (both directions, counted in the device's WebSocket), the
// device's RSS, and the servers' CPU time during the first sync.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeHocuspocus, writeRhizome, writeYLeveldb } from '../lib/datasets.mjs'
import { syntheticDocs } from '../lib/docs.mjs'
import { ROOT, startServer, tempDir } from '../lib/servers.mjs'
import { cpuSeconds, memory } from '../lib/stats.mjs'

/** The scenario's heading in the log and the report. */
export const title = 'Device sync: one device replicates a namespace of small documents'

const DEVICE = join(ROOT, 'test/bench/lib/deviceProcess.mjs')
const RELAYS = 3
const CHANGED = 10
const PREFIX = 'notes/'

/** N documents `notes/doc-00000`... of ~200 bytes, each as 2 updates, the same for every server. */
function smallDocs(count) {
  return [...syntheticDocs(count, { bytes: 200, parts: 2, seed: 36 })].map(([name, updates]) => [
    `${PREFIX}${name}`,
    updates,
  ])
}

/**
 * Runs one device process to the end. Samples the servers' CPU time when the device reports the
 * start and the end of its first sync; resolves with the device's events by name.
 */
async function runDevice(config, servers) {
  const file = join(await tempDir('device-config'), 'config.json')
  await writeFile(file, JSON.stringify(config))
  const child = spawn(process.execPath, ['--expose-gc', DEVICE, file], {
    cwd: join(ROOT, 'test'),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const events = {}
  const log = []
  let cpuAtStart = 0
  let buffered = ''
  const serverCpu = () => servers.reduce((n, s) => n + cpuSeconds(s.pid), 0)
  child.stderr.setEncoding('utf8').on('data', (s) => log.push(s))
  child.stdout.setEncoding('utf8').on('data', (s) => {
    buffered += s
    let nl = buffered.indexOf('\n')
    while (nl >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      nl = buffered.indexOf('\n')
      if (!line.startsWith('DEVICE ')) {
        log.push(line)
        continue
      }
      const e = JSON.parse(line.slice(7))
      if (e.event === 'start') cpuAtStart = serverCpu()
      if (e.event === 'synced') {
        e.serverCpuSeconds = serverCpu() - cpuAtStart
        e.devicePeakRss = memory(child.pid).peak
      }
      events[e.event === 'memory' ? `memory-${e.phase}` : e.event] = e
    }
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), config.timeoutMs * 4)
  try {
    const code = await new Promise((resolve) => child.once('exit', (c, sig) => resolve(c ?? sig)))
    if (code !== 0 || !events.done) {
      throw new Error(
        `${config.kind} device exited with ${code}: ${events.error?.message ?? ''}\n${log.join('').slice(-2000)}`,
      )
    }
    return events
  } finally {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

const MB = 2 ** 20

/** The figures of one device run; `baselineRss`: the device process' RSS without documents. */
function figures(e, baselineRss, expected) {
  return {
    docs: e.synced.docs,
    firstMs: e.synced.ms,
    firstBytes: e.synced.bytesIn + e.synced.bytesOut,
    firstSockets: e.synced.sockets,
    serverCpuSeconds: e.synced.serverCpuSeconds,
    catchUpMs: e.caughtUp.ms,
    catchUpBytes: e.caughtUp.bytesIn + e.caughtUp.bytesOut,
    catchUpBytesIn: e.caughtUp.bytesIn,
    catchUpBytesOut: e.caughtUp.bytesOut,
    baselineRssMB: baselineRss / MB,
    rssMB: e['memory-full'].rss / MB,
    rssOverEmptyMB: (e['memory-full'].rss - baselineRss) / MB,
    peakRssMB: e.synced.devicePeakRss / MB,
    correct: e.synced.docs === expected && e.caughtUp.correct === true,
  }
}

/**
 * Runs the scenario for the server kinds `ctx.kinds` selects. Resolves with `{ params, results }`,
 * `results[kind]` as `figures()` returns them; rejects when a device or server fails or a phase
 * passes its deadline (60 s quick, 600 s standard).
 */
export async function run(ctx) {
  const count = Number(process.env.BENCH_DEVICE_DOCS) || (ctx.quick ? 300 : 10_000)
  const timeoutMs = ctx.quick ? 60_000 : 600_000
  const docs = smallDocs(count)
  const names = docs.map(([name]) => name)
  // Spread over the namespace, so that no single range of it holds every change.
  const changed = Array.from({ length: CHANGED }, (_, i) => names[Math.floor(((i + 0.5) * count) / CHANGED)])
  const base = { names, changed, prefix: PREFIX, window: 256, timeoutMs }
  const results = {}
  const kinds = ctx.kinds(['rhizome', 'yws-leveldb', 'hocuspocus'])

  if (kinds.includes('rhizome')) {
    // Each relay holds the documents in its own data directory, written through the DocStore.
    const dirs = []
    for (let i = 0; i < RELAYS; i++) {
      dirs.push(await tempDir(`device-relay${i}`))
      await writeRhizome(dirs[i], docs)
    }
    const relays = []
    try {
      for (const data of dirs) relays.push(await startServer('rhizome', { data }))
      const urls = relays.map((r) => r.url)
      const empty = await runDevice(
        { ...base, kind: 'rhizome-empty', urls, storage: await tempDir('device-empty') },
        relays,
      )
      const e = await runDevice(
        {
          ...base,
          kind: 'rhizome',
          urls,
          storage: await tempDir('device-rhizome'),
          writerStorage: await tempDir('device-writer'),
        },
        relays,
      )
      results.rhizome = figures(e, empty['memory-empty'].rss, count)
    } finally {
      await Promise.all(relays.map((r) => r.stop()))
    }
  }
  for (const kind of kinds.filter((k) => k !== 'rhizome')) {
    let data
    if (kind === 'yws-leveldb') {
      data = await tempDir('device-yleveldb')
      await writeYLeveldb(data, docs)
    } else {
      data = join(await tempDir('device-hocuspocus'), 'db.sqlite')
      await writeHocuspocus(data, docs)
    }
    // Hocuspocus resets a socket with more than 100 documents waiting for authentication (its
    // default `maxPendingDocuments`); a multiplexed device opens all of them at every (re)connect.
    const args = kind === 'hocuspocus' ? ['--max-pending-documents', String(count + CHANGED)] : []
    const server = await startServer(kind, { data, args })
    try {
      const e = await runDevice(
        { ...base, kind: kind === 'yws-leveldb' ? 'yws' : 'hocuspocus', urls: [server.url] },
        [server],
      )
      results[kind] = figures(e, e['memory-baseline'].rss, count)
    } finally {
      await server.stop()
    }
  }
  for (const [k, r] of Object.entries(results)) {
    ctx.log(
      `  ${k}: first full replica ${(r.firstMs / 1000).toFixed(2)} s (${(r.firstBytes / 1024).toFixed(0)} KB, ` +
        `server CPU ${r.serverCpuSeconds.toFixed(2)} s); catch-up ${r.catchUpMs.toFixed(0)} ms, ` +
        `${(r.catchUpBytes / 1024).toFixed(1)} KB; RSS +${r.rssOverEmptyMB.toFixed(1)} MB; ${r.correct ? 'ok' : 'WRONG'}`,
    )
  }
  return {
    params: {
      docs: count,
      docBytes: 200,
      relays: RELAYS,
      changedWhileOffline: CHANGED,
      ywsConnectWindow: 256,
    },
    results,
  }
}
