// Store benchmark: durable appends/s with group commit vs one sync put per update, and load time of a
// document of 10,000 small updates (before/after compaction) vs y-leveldb. Imports the BUILT store
// (`npx tsc -b packages/store`). Run: node test/bench/store.bench.mjs  (BENCH_SECONDS=2 per append run)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { LeveldbPersistence } from 'y-leveldb'
import * as Y from 'yjs'

const here = dirname(fileURLToPath(import.meta.url))
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2)
const LOAD_UPDATES = 10_000
const LOAD_SAMPLES = 5
const tempDirs = []

async function tempDir(label) {
  const dir = await mkdtemp(join(os.tmpdir(), `rhizome-bench-${label}-`))
  tempDirs.push(dir)
  return dir
}

/** `n` small updates of one client typing into a text, as an editor would send them. */
function smallUpdates(n, clientID = 1) {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates = []
  doc.on('update', (u) => updates.push(u))
  const text = doc.getText('t')
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) text.delete(Math.floor(text.length / 2), 1)
    else text.insert(text.length === 0 ? 0 : (i * 7) % text.length, 'ab')
  }
  return { updates, doc }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Runs `writers` loops that each await `write(writer, i)` back to back for SECONDS; returns ops/s. */
async function throughput(writers, write) {
  let done = 0
  const deadline = performance.now() + SECONDS * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await write(w, i)
        done++
      }
    }),
  )
  return { opsPerSec: done / ((performance.now() - started) / 1000), ops: done }
}

async function benchAppends(writers) {
  const perWriter = Array.from({ length: writers }, (_, w) => smallUpdates(20_000, w + 1).updates)
  const next = (w, i) => perWriter[w][i % perWriter[w].length]

  const commits = []
  const dir = await tempDir('group')
  const store = await DocStore.open(new ClassicLevel(dir), { onCommit: (info) => commits.push(info) })
  const group = await throughput(writers, (w, i) => store.append(`doc-${w}`, next(w, i)))
  await store.close()

  const rawDir = await tempDir('put')
  const db = new ClassicLevel(rawDir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  const single = await throughput(writers, (w, i) => db.put(`doc-${w}/${i}`, next(w, i), { sync: true }))
  await db.close()

  const batched = commits.reduce((n, c) => n + c.ops, 0)
  return {
    writers,
    groupCommitPerSec: group.opsPerSec,
    syncPutPerSec: single.opsPerSec,
    speedup: group.opsPerSec / single.opsPerSec,
    meanBatch: batched / Math.max(1, commits.length),
    meanCommitMs: commits.reduce((t, c) => t + c.ms, 0) / Math.max(1, commits.length),
  }
}

async function timeIt(fn) {
  const t = performance.now()
  const result = await fn()
  return { ms: performance.now() - t, result }
}

async function benchLoad() {
  const { updates, doc: reference } = smallUpdates(LOAD_UPDATES, 7)
  const expected = reference.getText('t').toString()
  const check = (doc) => {
    if (doc.getText('t').toString() !== expected)
      throw new Error('loaded document differs from the reference')
  }

  // Rhizome store: automatic compaction off, so the first measurements see a 10,000-record log.
  const dir = await tempDir('load')
  let store = await DocStore.open(new ClassicLevel(dir), {
    compactAfterUpdates: Number.POSITIVE_INFINITY,
    compactAfterBytes: Number.POSITIVE_INFINITY,
  })
  await Promise.all(updates.map((u) => store.append('big', u)))
  await store.close()
  const loadStore = async () => {
    store = await DocStore.open(new ClassicLevel(dir), { compactAfterUpdates: Number.POSITIVE_INFINITY })
    const doc = new Y.Doc()
    const { ms } = await timeIt(() => store.loadInto('big', doc))
    check(doc)
    await store.close()
    return ms
  }
  const storeLog = []
  for (let i = 0; i < LOAD_SAMPLES; i++) storeLog.push(await loadStore())
  store = await DocStore.open(new ClassicLevel(dir))
  const compactMs = (await timeIt(() => store.compact('big'))).ms
  await store.close()
  const storeSnap = []
  for (let i = 0; i < LOAD_SAMPLES; i++) storeSnap.push(await loadStore())

  // y-leveldb: its first getYDoc of a long log also trims it (merges and rewrites), so each sample of
  // the untrimmed case needs its own document.
  const ydir = await tempDir('yleveldb')
  const ldb = new LeveldbPersistence(ydir)
  for (let s = 0; s < LOAD_SAMPLES; s++) for (const u of updates) await ldb.storeUpdate(`big-${s}`, u)
  const yFirst = []
  const ySecond = []
  for (let s = 0; s < LOAD_SAMPLES; s++) {
    const first = await timeIt(() => ldb.getYDoc(`big-${s}`))
    check(first.result)
    yFirst.push(first.ms)
    const second = await timeIt(() => ldb.getYDoc(`big-${s}`))
    check(second.result)
    ySecond.push(second.ms)
  }
  await ldb.destroy()

  return {
    updates: LOAD_UPDATES,
    samples: LOAD_SAMPLES,
    storeLogMs: median(storeLog),
    storeSnapshotMs: median(storeSnap),
    storeCompactMs: compactMs,
    yLeveldbFirstMs: median(yFirst),
    yLeveldbTrimmedMs: median(ySecond),
  }
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })

try {
  const appends = []
  for (const writers of [1, 10, 100]) appends.push(await benchAppends(writers))
  const load = await benchLoad()

  console.log(
    `\n## Durable appends (classic-level, ${SECONDS}s per run, node ${process.version}, ${os.cpus().length} CPUs)\n`,
  )
  console.log(
    '| writers | group commit (appends/s) | sync put per update (puts/s) | speedup | mean batch | mean commit ms |',
  )
  console.log('|---:|---:|---:|---:|---:|---:|')
  for (const r of appends) {
    console.log(
      `| ${r.writers} | ${fmt(r.groupCommitPerSec)} | ${fmt(r.syncPutPerSec)} | ${fmt(r.speedup, 1)}x | ${fmt(r.meanBatch, 1)} | ${fmt(r.meanCommitMs, 2)} |`,
    )
  }
  console.log(`\n## Load a document of ${fmt(load.updates)} small updates (median of ${load.samples})\n`)
  console.log('| store | ms |')
  console.log('|---|---:|')
  console.log(`| rhizome DocStore.loadInto, 10,000-record log | ${fmt(load.storeLogMs, 1)} |`)
  console.log(`| rhizome DocStore.loadInto, after compact() | ${fmt(load.storeSnapshotMs, 1)} |`)
  console.log(`| rhizome compact() itself (once) | ${fmt(load.storeCompactMs, 1)} |`)
  console.log(
    `| y-leveldb getYDoc, first (untrimmed log; includes its trim) | ${fmt(load.yLeveldbFirstMs, 1)} |`,
  )
  console.log(`| y-leveldb getYDoc, after its trim | ${fmt(load.yLeveldbTrimmedMs, 1)} |`)

  const date = new Date().toISOString().slice(0, 10)
  const out = join(here, 'results', `store-${date}.json`)
  await mkdir(dirname(out), { recursive: true })
  const machine = {
    node: process.version,
    platform: process.platform,
    cpus: os.cpus().length,
    tmpdir: os.tmpdir(),
  }
  await writeFile(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), machine, appends, load }, null, 2)}\n`,
  )
  console.log(`\nwrote ${out}`)
} finally {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true })
}
