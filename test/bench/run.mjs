// `pnpm bench`: every scenario of issue 9 against the peer servers, in one run on this machine.
// BENCH_QUICK=1: ~1-minute smoke run with small sizes (what `pnpm test` executes).
// BENCH_FULL=1: the whole B4 trace in fan-out.
// BENCH_ONLY=fanout,coldLoad,deviceSync,...: run a subset.  BENCH_SERVERS=rhizome,hocuspocus: a subset of servers.
// BENCH_PROFILE=fanout,...: run Rhizome's relay with --cpu-prof in those scenarios (profiles under
// test/bench/results/profiles).  BENCH_OUT=DIR: where to write results (default test/bench/results).
import { mkdir } from 'node:fs/promises'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeReport } from './lib/report.mjs'
import { cleanup, versions } from './lib/servers.mjs'
import * as ackLatency from './scenarios/ackLatency.mjs'
import * as ackTargets from './scenarios/ackTargets.mjs'
import * as coldLoad from './scenarios/coldLoad.mjs'
import * as deviceRefill from './scenarios/deviceRefill.mjs'
import * as deviceSync from './scenarios/deviceSync.mjs'
import * as fanout from './scenarios/fanout.mjs'
import * as history from './scenarios/history.mjs'
import * as httpApi from './scenarios/httpApi.mjs'
import * as idleDocs from './scenarios/idleDocs.mjs'
import * as manyRooms from './scenarios/manyRooms.mjs'
import * as recovery from './scenarios/recovery.mjs'
import * as startup from './scenarios/startup.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const SCENARIOS = {
  fanout,
  manyRooms,
  coldLoad,
  ackLatency,
  ackTargets,
  recovery,
  idleDocs,
  history,
  httpApi,
  deviceSync,
  deviceRefill,
  startup,
}
const env = process.env
const quick = env.BENCH_QUICK === '1'
const full = env.BENCH_FULL === '1'
const only = env.BENCH_ONLY ? env.BENCH_ONLY.split(',') : Object.keys(SCENARIOS)
const servers = env.BENCH_SERVERS ? env.BENCH_SERVERS.split(',') : null
const profiled = new Set((env.BENCH_PROFILE ?? '').split(',').filter(Boolean))
const outDir = env.BENCH_OUT ?? join(here, 'results')

for (const name of only) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`)

const ctx = {
  shared: {},
  quick,
  full,
  log: (s) => console.log(s),
  kinds: (all) => (servers ? all.filter((k) => servers.includes(k)) : all),
  profileFor: (scenario, kind) =>
    kind === 'rhizome' && profiled.has(scenario) ? join(outDir, 'profiles', scenario) : undefined,
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGB: +(totalmem() / 2 ** 30).toFixed(1),
  freeMemoryGBAtStart: +(freemem() / 2 ** 30).toFixed(1),
  loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)),
  platform: `${process.platform} ${process.arch}`,
}
const report = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : full ? 'full' : 'standard',
  command: `${quick ? 'BENCH_QUICK=1 ' : ''}${full ? 'BENCH_FULL=1 ' : ''}pnpm bench`,
  machine,
  versions: versions(),
  scenarios: {},
  errors: {},
}
console.log(
  `rhizome bench (${report.mode}) on ${machine.cpus} cores, ${machine.memoryGB} GB, load ${machine.loadAverageAtStart.join(' ')}`,
)
console.log(
  Object.entries(report.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', '),
)

// Servers are child processes: stop them when the run is interrupted (timeout, Ctrl-C).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanup().finally(() => process.exit(130))
  })
}

const t0 = performance.now()
let failed = false
try {
  for (const name of only) {
    const scenario = SCENARIOS[name]
    console.log(`\n== ${scenario.title}`)
    const s0 = performance.now()
    try {
      report.scenarios[name] = { title: scenario.title, ...(await scenario.run(ctx)) }
      report.scenarios[name].seconds = (performance.now() - s0) / 1000
    } catch (err) {
      failed = true
      report.errors[name] = String(err?.stack ?? err)
      console.error(`scenario ${name} failed:`, err)
    }
    await cleanup({ keepTemp: true })
  }
} finally {
  await cleanup()
}
report.totalSeconds = (performance.now() - t0) / 1000
machine.loadAverageAtEnd = loadavg().map((l) => +l.toFixed(2))
await mkdir(outDir, { recursive: true })
const { table, correct } = await writeReport(report, outDir)
console.log(`\n${table}`)
console.log(
  `\ntotal ${report.totalSeconds.toFixed(0)} s; correctness checks ${correct ? 'passed' : 'FAILED'}`,
)
console.log(
  `BENCH_RESULT ${JSON.stringify({ ok: !failed && correct, correct, errors: Object.keys(report.errors) })}`,
)
process.exit(failed || !correct ? 1 : 0)
