// Device refill (issue "5/6 Recovery and durability at disk speed", DESIGN.md G3: "if every relay
// is wiped, devices refill them on reconnect"): a device replica of `notes/**` holds N small
// documents (10,000; BENCH_QUICK=1: 300) in its local store; every one of 3 relays is stopped, its
// data directory deleted, and started again empty on the same port with the same --id (so with a
// new store id: the device's per-relay checkpoint does not resume and it pushes every document the
// relay lacks). Measured: time from the relays being back (all listening, the device told to
// connect) until every relay's /docs catalog equals the device's (same names and digests), bytes
// the device sent and received, and where the time goes: the relays' and the device's CPU time
// and the relays' group commits (count and summed duration, from /metrics).
import { spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { catalogOf } from '../../support/catalog.mjs'
import { writeRhizome } from '../lib/datasets.mjs'
import { syntheticDocs } from '../lib/docs.mjs'
import { ROOT, startServer, tempDir } from '../lib/servers.mjs'
import { cpuSeconds, sleep } from '../lib/stats.mjs'

/** The scenario's heading in the log and the report. */
export const title = 'Device refill: one device refills 3 wiped relays from its local store'

const DEVICE = join(ROOT, 'test/bench/lib/refillDeviceProcess.mjs')
const RELAYS = 3
const PREFIX = 'notes/'
/** The refill target of the issue, in ms. */
export const TARGET_MS = 5_000

/**
 * The device process with line-based control: `next(event)` resolves with the next `DEVICE` event
 * of that name (rejects on an `error` event or exit), `send(line)` writes a command. `profile`: a
 * directory for the device's `node --cpu-prof` (under `device/`).
 */
function startDevice(configFile, profile) {
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', join(profile, 'device')] : []
  const child = spawn(process.execPath, [...nodeArgs, DEVICE, configFile], {
    cwd: join(ROOT, 'test'),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const log = []
  const events = []
  const waiters = []
  let exited = null
  let buffered = ''
  const settle = () => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]
      const e = events.find((x) => x.event === w.event)
      const err = events.find((x) => x.event === 'error')
      if (e) w.resolve(e)
      else if (err) w.reject(new Error(`device failed: ${err.message}`))
      else if (exited !== null)
        w.reject(new Error(`device exited with ${exited}:\n${log.join('').slice(-2000)}`))
      else continue
      waiters.splice(i--, 1)
    }
  }
  child.stderr.setEncoding('utf8').on('data', (s) => log.push(s))
  child.stdout.setEncoding('utf8').on('data', (s) => {
    buffered += s
    let nl = buffered.indexOf('\n')
    while (nl >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      nl = buffered.indexOf('\n')
      if (line.startsWith('DEVICE ')) events.push(JSON.parse(line.slice(7)))
      else log.push(`${line}\n`)
    }
    settle()
  })
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? signal
      settle()
      resolve(exited)
    }),
  )
  return {
    pid: child.pid,
    next: (event) =>
      new Promise((resolve, reject) => {
        waiters.push({ event, resolve, reject })
        settle()
      }),
    send: (line) => child.stdin.write(`${line}\n`),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exit
    },
    exit,
  }
}

/** A relay's group-commit count and summed duration (s) from its /metrics. */
async function commits(relay) {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { count: value('rhizome_commit_seconds_count'), seconds: value('rhizome_commit_seconds_sum') }
}

/** True once the relay's catalog holds exactly `expected` (names and digests). */
async function matches(relay, expected) {
  // /healthz first: reading 10 catalog pages per poll would cost the relay the CPU we measure.
  const health = await (await fetch(`${relay.httpUrl}/healthz`)).json()
  if (health.docs < expected.size) return false
  const got = await catalogOf(relay.httpUrl)
  return got.size === expected.size && [...expected].every(([name, d]) => got.get(name) === d)
}

/**
 * Runs the scenario (Rhizome only: no peer server has devices that refill a wiped server).
 * Resolves with `{ params, results }`; rejects when the device or a relay fails, or a phase passes
 * its deadline (60 s quick, 600 s standard).
 */
export async function run(ctx) {
  const count = Number(process.env.BENCH_REFILL_DOCS) || (ctx.quick ? 300 : 10_000)
  const timeoutMs = ctx.quick ? 60_000 : 600_000
  if (!ctx.kinds(['rhizome']).length) return { params: { docs: count }, results: {} }
  const docs = [...syntheticDocs(count, { bytes: 200, parts: 2, seed: 51 })].map(([name, updates]) => [
    `${PREFIX}${name}`,
    updates,
  ])
  // The device fills its store from relays that hold the documents (the way a device gets them),
  // so it also holds a checkpoint for each relay's old store.
  const dirs = []
  for (let i = 0; i < RELAYS; i++) {
    dirs.push(await tempDir(`refill-relay${i}`))
    await writeRhizome(dirs[i], docs)
  }
  const relayArgs = (i) => ['--id', `refill-relay${i}`, '--max-new-docs-per-minute', '0']
  let relays = []
  let device = null
  try {
    for (let i = 0; i < RELAYS; i++)
      relays.push(await startServer('rhizome', { data: dirs[i], args: relayArgs(i) }))
    const ports = relays.map((r) => new URL(r.url).port)
    const catalogFile = join(await tempDir('refill-catalog'), 'catalog.json')
    const configFile = join(await tempDir('refill-config'), 'config.json')
    const storage = await tempDir('refill-device')
    await writeFile(
      configFile,
      JSON.stringify({
        urls: relays.map((r) => r.url),
        prefix: PREFIX,
        count,
        storage,
        catalogFile,
        timeoutMs,
      }),
    )
    const profile = ctx.profileFor('deviceRefill', 'rhizome')
    device = startDevice(configFile, profile)
    const filled = await device.next('filled')
    await device.next('offline')
    const expected = new Map(Object.entries(JSON.parse(await readFile(catalogFile, 'utf8'))))

    // Every relay loses its disk, and comes back empty where the device expects it.
    await Promise.all(relays.map((r) => r.stop()))
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
    relays = await Promise.all(
      dirs.map((data, i) =>
        startServer('rhizome', {
          data,
          args: [...relayArgs(i), '--port', ports[i]],
          profile,
        }),
      ),
    )
    const emptyAtStart = (await Promise.all(relays.map((r) => catalogOf(r.httpUrl)))).every(
      (c) => c.size === 0,
    )
    const relayCpu0 = relays.map((r) => cpuSeconds(r.pid))

    const t0 = performance.now()
    device.send('connect')
    await device.next('connecting')
    const doneMs = relays.map(() => null)
    while (doneMs.some((ms) => ms === null)) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`relays not refilled in ${timeoutMs} ms`)
      for (let i = 0; i < RELAYS; i++) {
        if (doneMs[i] === null && (await matches(relays[i], expected))) doneMs[i] = performance.now() - t0
      }
      if (doneMs.some((ms) => ms === null)) await sleep(25)
    }
    const refillMs = performance.now() - t0
    const relayCpuSeconds = relays.map((r, i) => cpuSeconds(r.pid) - relayCpu0[i])
    const relayCommits = await Promise.all(relays.map(commits))
    device.send('finish')
    const done = await device.next('done')
    await device.exit

    const r = {
      docs: expected.size,
      deviceDocsBefore: filled.docs,
      refillMs,
      relayRefillMs: doneMs,
      bytesOut: done.bytesOut,
      bytesIn: done.bytesIn,
      sockets: done.sockets,
      deviceCpuSeconds: done.cpuSeconds,
      relayCpuSeconds,
      relayCommits,
      correct: emptyAtStart && expected.size === count && doneMs.every((ms) => ms !== null),
    }
    const kb = (b) => (b / 1024).toFixed(0)
    ctx.log(
      `  ${count} docs: every relay refilled in ${(refillMs / 1000).toFixed(2)} s ` +
        `(per relay ${doneMs.map((ms) => (ms / 1000).toFixed(2)).join(' / ')} s); device sent ${kb(r.bytesOut)} KB, ` +
        `received ${kb(r.bytesIn)} KB; CPU device ${r.deviceCpuSeconds.toFixed(2)} s, relays ` +
        `${relayCpuSeconds.map((s) => s.toFixed(2)).join(' / ')} s; commits ${relayCommits.map((c) => `${c.count} (${(c.seconds * 1000).toFixed(0)} ms)`).join(' / ')}; ` +
        `${r.correct ? 'ok' : 'WRONG'}`,
    )
    return {
      params: { docs: count, docBytes: 200, relays: RELAYS, targetMs: TARGET_MS },
      results: { rhizome: r },
    }
  } finally {
    await device?.kill()
    await Promise.all(relays.map((r) => r.stop()))
  }
}
