// History benchmark: the B4 trace appended as 259,778 updates received one per 0.5 s (36 hours, so
// the first 12 hours are older than a day and become hourly), with history (the default 30 days)
// and without (historyMs 0). Reports the disk each costs (value bytes under the document's keys,
// and the LevelDB directory after a full range compaction), restore-point exports (stateAt) across
// the history, and a revert over the last 10,000 updates, each checked against the trace's text
// replayed in a plain Y.Doc. Imports the BUILT store (`npx tsc -b packages/store`).
// Run: node test/bench/history.bench.mjs   (HISTORY_BENCH_UPDATES=N for a shorter prefix of the trace)
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DocStore, revertUpdate } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import * as Y from 'yjs'
import { traceUpdates } from './lib/trace.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const COUNT = Number(process.env.HISTORY_BENCH_UPDATES ?? 259_778)
const SPACING_MS = 500
const REVERT_LATER = Math.min(10_000, COUNT - 1)
const HOUR = 3_600_000
const DOC = 'b4'
const RAW = { keyEncoding: 'utf8', valueEncoding: 'view' }
const tempDirs = []

async function tempDir(label) {
  const dir = await mkdtemp(join(os.tmpdir(), `rhizome-history-bench-${label}-`))
  tempDirs.push(dir)
  return dir
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
const kib = (n) => `${fmt(n / 1024, 1)} KiB`

async function timed(fn) {
  const started = performance.now()
  const value = await fn()
  return { ms: performance.now() - started, value }
}

/** Median time of `runs` calls (the value of the last one). */
async function median(runs, fn) {
  const times = []
  let value
  for (let i = 0; i < runs; i++) {
    const r = await timed(fn)
    times.push(r.ms)
    value = r.value
  }
  times.sort((a, b) => a - b)
  return { ms: times[Math.floor(times.length / 2)], value }
}

const textOf = (update) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const text = doc.getText('t').toString()
  doc.destroy()
  return text
}

/**
 * The text after the first `n` updates, for each `n` of `counts`, in one pass over the updates
 * (a plain replay of the trace on strings would cost seconds per count).
 */
function textsAfter(updates, counts) {
  const doc = new Y.Doc()
  const out = new Map()
  let at = 0
  for (const n of [...new Set(counts)].sort((a, b) => a - b)) {
    Y.transact(doc, () => {
      for (; at < n; at++) Y.applyUpdate(doc, updates[at])
    })
    out.set(n, doc.getText('t').toString())
  }
  doc.destroy()
  return out
}

/** Value bytes under the document's keys, by kind (read with a raw handle on the closed store's directory). */
async function valueBytes(dir) {
  const db = new ClassicLevel(dir)
  await db.open()
  const sizes = { snapshot: 0, log: 0, history: 0, meta: 0 }
  for await (const [key, value] of db.iterator(RAW)) {
    if (key === `d:${DOC}\u0000s`) sizes.snapshot += value.length
    else if (key.startsWith(`d:${DOC}\u0000`)) sizes.log += value.length
    else if (key.startsWith(`h:${DOC}\u0000`)) sizes.history += value.length
    else if (key === `m:${DOC}`) sizes.meta += value.length
  }
  // A full range compaction, so that the directory holds live data only.
  await db.compactRange('\u0000', '\uffff', { keyEncoding: 'utf8' })
  await db.close()
  let du = 0
  for (const f of await readdir(dir)) du += (await stat(join(dir, f))).size
  return { ...sizes, total: sizes.snapshot + sizes.log + sizes.history + sizes.meta, du }
}

/** Appends the trace, update i received at `times[i]`, through a store with `options`. */
async function appendTrace(dir, updates, times, options) {
  let now = times[0]
  const store = await DocStore.open(new ClassicLevel(dir), { ...options, clock: () => now })
  const append = await timed(async () => {
    const WINDOW = 1000
    for (let i = 0; i < updates.length; i += WINDOW) {
      const batch = []
      for (let j = i; j < Math.min(updates.length, i + WINDOW); j++) {
        now = times[j]
        batch.push(store.append(DOC, updates[j], { at: times[j] }))
      }
      await Promise.all(batch)
    }
    await store.settle()
    while (((await store.info(DOC))?.updates ?? 0) > 0) await store.compact(DOC)
  })
  now = times.at(-1) + 1000
  return { store, appendMs: append.ms, setNow: (t) => (now = t), now: () => now }
}

try {
  console.log(
    `B4: ${fmt(COUNT)} updates, one per ${SPACING_MS} ms (node ${process.version}, ${os.cpus().length} CPUs)`,
  )
  const { updates } = traceUpdates(COUNT)
  const start = Date.UTC(2026, 0, 1)
  const times = updates.map((_, i) => start + i * SPACING_MS)
  const end = times.at(-1) + 1000

  // Without history: today's behaviour, the baseline.
  const plainDir = await tempDir('plain')
  const plain = await appendTrace(plainDir, updates, times, { historyMs: 0 })
  await plain.store.close()
  const plainSize = await valueBytes(plainDir)

  // With history (default window, 30 days).
  const historyDir = await tempDir('history')
  const hist = await appendTrace(historyDir, updates, times, {})
  const { store } = hist
  const purge = await timed(() => store.purgeHistory(end))
  const points = await timed(() => store.history(DOC))

  // Restore points across the history, each checked against the string replay of the trace.
  const exactFrom = end - 24 * HOUR
  const middle = Math.floor(COUNT / 2)
  const hourly = Math.floor((start + (exactFrom - start) / 2) / HOUR) * HOUR - 1 // an hour's end, in the hourly part
  const moments = [
    ['newest', times.at(-1), COUNT],
    ['middle', times[middle], middle + 1],
    ['oldest exact (24 h ago)', exactFrom, times.filter((t) => t <= exactFrom).length],
    ['hourly part (an hour end)', hourly, times.filter((t) => t <= hourly).length],
  ].filter(([, at]) => at >= start)
  const k = COUNT - 1 - REVERT_LATER
  const expected = textsAfter(updates, [...moments.map(([, , count]) => count), k + 1])
  const exports = []
  for (const [label, at, count] of moments) {
    const r = await median(3, () => store.stateAt(DOC, at))
    const ok = textOf(r.value) === expected.get(count)
    exports.push({ label, at, updatesIncluded: count, ms: r.ms, bytes: r.value.length, ok })
  }

  // Revert over the last 10,000 updates.
  const target = times[k]
  const stateAt = await timed(() => store.stateAt(DOC, target))
  const since = await timed(() => store.updatesSince(DOC, target))
  const revert = await timed(() => revertUpdate(stateAt.value, since.value))
  const fromRaw = await timed(() => revertUpdate(stateAt.value, updates.slice(k + 1)))
  const live = new Y.Doc()
  await store.loadInto(DOC, live)
  Y.applyUpdate(live, revert.value)
  const revertOk = live.getText('t').toString() === expected.get(k + 1)
  const rawDoc = new Y.Doc()
  await store.loadInto(DOC, rawDoc)
  Y.applyUpdate(rawDoc, fromRaw.value)
  const rawOk = rawDoc.getText('t').toString() === expected.get(k + 1)
  await store.close()
  const historySize = await valueBytes(historyDir)

  const result = {
    updates: COUNT,
    spacingMs: SPACING_MS,
    appendMs: { plain: plain.appendMs, history: hist.appendMs },
    purgeMs: purge.ms,
    purge: purge.value,
    restorePoints: { count: points.value.length, ms: points.ms },
    bytes: { plain: plainSize, history: historySize },
    ratio: { values: historySize.total / plainSize.total, du: historySize.du / plainSize.du },
    exports,
    revert: {
      laterUpdates: REVERT_LATER,
      stateAtMs: stateAt.ms,
      updatesSinceMs: since.ms,
      updatesSinceBytes: since.value.length,
      revertUpdateMs: revert.ms,
      revertBytes: revert.value.length,
      revertFromIndividualUpdatesMs: fromRaw.ms,
      ok: revertOk && rawOk,
    },
  }

  console.log('\n## Disk (one document)\n')
  console.log('| store | snapshot | log | history index | meta | values total | directory after compaction |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const [label, s] of [
    ['no history (historyMs 0)', plainSize],
    ['history (30 days)', historySize],
  ])
    console.log(
      `| ${label} | ${kib(s.snapshot)} | ${kib(s.log)} | ${kib(s.history)} | ${kib(s.meta)} | ${kib(s.total)} | ${kib(s.du)} |`,
    )
  console.log(
    `\nhistory / no history: ${fmt(result.ratio.values, 2)}x (values), ${fmt(result.ratio.du, 2)}x (directory)`,
  )
  console.log(
    `appends incl. compaction: ${fmt(hist.appendMs / 1000, 1)} s with history, ${fmt(plain.appendMs / 1000, 1)} s without; purgeHistory ${fmt(purge.ms)} ms; history() ${fmt(points.ms)} ms, ${fmt(points.value.length)} restore points`,
  )
  console.log('\n## stateAt (median of 3)\n')
  console.log('| moment | updates included | ms | bytes | text exact |')
  console.log('|---|---:|---:|---:|---|')
  for (const e of exports)
    console.log(`| ${e.label} | ${fmt(e.updatesIncluded)} | ${fmt(e.ms, 1)} | ${fmt(e.bytes)} | ${e.ok} |`)
  console.log(`\n## Revert over the last ${fmt(REVERT_LATER)} updates\n`)
  console.log('| step | ms |')
  console.log('|---|---:|')
  console.log(`| stateAt(target) | ${fmt(stateAt.ms, 1)} |`)
  console.log(`| updatesSince(target) (${kib(since.value.length)}) | ${fmt(since.ms, 1)} |`)
  console.log(`| revertUpdate (one merged later update) | ${fmt(revert.ms, 1)} |`)
  console.log(`| revertUpdate (the ${fmt(REVERT_LATER)} individual updates) | ${fmt(fromRaw.ms, 1)} |`)
  console.log(`\nrevert update ${kib(revert.value.length)}; text after revert exact: ${result.revert.ok}`)

  const date = new Date().toISOString().slice(0, 10)
  const out = join(process.env.BENCH_OUT ?? join(here, 'results'), `history-${date}.json`)
  await mkdir(dirname(out), { recursive: true })
  const machine = { node: process.version, platform: process.platform, cpus: os.cpus().length }
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), machine, ...result }, null, 2)}\n`)
  console.log(`\nwrote ${out}`)
  if (!result.revert.ok || exports.some((e) => !e.ok)) process.exitCode = 1
} finally {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true })
}
