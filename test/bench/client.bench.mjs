// Client SDK benchmark: time to open a ~1 MB document from the local store, and durable local
// edits per second (each edit in the local LevelDB store, fsynced through the store's group commit).
// Run from the repository root after `pnpm build`:  node test/bench/client.bench.mjs
// Prints a table and writes test/bench/results/client.json.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { openReplica } from '../../packages/client/dist/index.js'

const here = dirname(fileURLToPath(import.meta.url))
const OPEN_RUNS = Number(process.env.OPEN_RUNS ?? 7)
const EDITS = Number(process.env.EDITS ?? 2000)
const TARGET_BYTES = 1024 * 1024

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

async function buildLargeDoc(storage) {
  const replica = await openReplica({ relays: [], storage })
  const handle = await replica.open('bench/large')
  const text = handle.doc.getText('t')
  const list = handle.doc.getArray('rows')
  let i = 0
  // Many separate edits, as a real document grows: the store sees thousands of appends.
  while (Y.encodeStateAsUpdate(handle.doc).length < TARGET_BYTES) {
    for (let j = 0; j < 200; j++, i++) {
      if (i % 2) text.insert(text.length, `line ${i} of the benchmark document, some prose to fill it up.\n`)
      else list.push([{ id: i, title: `row ${i}`, done: i % 3 === 0 }])
    }
  }
  const bytes = Y.encodeStateAsUpdate(handle.doc).length
  await replica.close()
  return { bytes, edits: i }
}

async function benchOpen(storage) {
  const times = []
  let check = 0
  for (let r = 0; r < OPEN_RUNS; r++) {
    const replica = await openReplica({ relays: [], storage })
    const t0 = process.hrtime.bigint()
    const handle = await replica.open('bench/large')
    times.push(ms(t0))
    check = handle.doc.getArray('rows').length
    await replica.close()
  }
  return { medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), rows: check }
}

async function benchEdits(storage) {
  const replica = await openReplica({ relays: [], storage })
  const handle = await replica.open('bench/edits')
  const text = handle.doc.getText('t')
  // Sequential: every edit waits for its own durable write before the next (latency bound).
  const seqN = Math.max(50, Math.floor(EDITS / 10))
  let t0 = process.hrtime.bigint()
  for (let i = 0; i < seqN; i++) {
    text.insert(text.length, 'x')
    await handle.whenDurable(0)
  }
  const seqMs = ms(t0)
  // Pipelined: a burst of edits (typing), each with its own durability promise, awaited together;
  // the store's group commit folds them into few fsynced batches.
  t0 = process.hrtime.bigint()
  const waits = []
  for (let i = 0; i < EDITS; i++) {
    text.insert(text.length, 'y')
    waits.push(handle.whenDurable(0))
  }
  await Promise.all(waits)
  const burstMs = ms(t0)
  await replica.close()
  return {
    sequential: { edits: seqN, ms: seqMs, perSecond: (seqN / seqMs) * 1000 },
    pipelined: { edits: EDITS, ms: burstMs, perSecond: (EDITS / burstMs) * 1000 },
  }
}

const dir = await mkdtemp(join(tmpdir(), 'rhizome-client-bench-'))
try {
  const built = await buildLargeDoc(join(dir, 'large'))
  const open = await benchOpen(join(dir, 'large'))
  const edits = await benchEdits(join(dir, 'edits'))
  const result = {
    node: process.version,
    date: new Date().toISOString(),
    openLargeDoc: { docBytes: built.bytes, editsToBuild: built.edits, runs: OPEN_RUNS, ...open },
    durableEdits: edits,
  }
  console.table({
    [`open ${(built.bytes / 1024 / 1024).toFixed(2)} MB doc (${built.edits} edits) from local store`]: {
      value: open.medianMs.toFixed(1),
      unit: `ms (median of ${OPEN_RUNS}, min ${open.minMs.toFixed(1)}, max ${open.maxMs.toFixed(1)})`,
    },
    'durable local edits, one at a time': {
      value: edits.sequential.perSecond.toFixed(0),
      unit: `edits/s (${edits.sequential.edits} edits)`,
    },
    'durable local edits, burst (group commit)': {
      value: edits.pipelined.perSecond.toFixed(0),
      unit: `edits/s (${edits.pipelined.edits} edits)`,
    },
  })
  await mkdir(join(here, 'results'), { recursive: true })
  await writeFile(join(here, 'results', 'client.json'), `${JSON.stringify(result, null, 2)}\n`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
