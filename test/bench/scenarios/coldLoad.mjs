// Scenario 3, cold load of a long history: the B4 document written as 259,778 separate updates into
// each server's own storage, the server started cold, then one new client: time from connecting to
// holding the exact final text, the server's peak RSS and worst event-loop delay. Storage-only:
// Rhizome's DocStore.loadInto against y-leveldb's getYDoc on the same updates, in this process.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { LeveldbPersistence } from 'y-leveldb'
import * as Y from 'yjs'
import { eventually } from '../../support/poll.mjs'
import { writeHocuspocus, writeRhizome, writeYLeveldb } from '../lib/datasets.mjs'
import { BenchClient } from '../lib/loadgen.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { memory } from '../lib/stats.mjs'
import { expectedText, loadTrace, traceUpdates } from '../lib/trace.mjs'

export const title = 'Cold load of the B4 history (one update per edit)'
const DOC = 'b4'

async function loadThroughServer(kind, data, expected, ctx) {
  const t0 = performance.now()
  const server = await startServer(kind, { data, profile: ctx.profileFor('coldLoad', kind) })
  try {
    const spawnedMs = performance.now() - t0
    const doc = new Y.Doc()
    const t1 = performance.now()
    const client = await BenchClient.open(server, DOC, { onUpdate: (u) => Y.applyUpdate(doc, u) }, 120_000)
    await eventually(() => doc.getText('t').length === expected.length, { timeout: 300_000, interval: 5 })
    const loadMs = performance.now() - t1
    const exact = doc.getText('t').toString() === expected
    client.close()
    await new Promise((r) => setTimeout(r, 250))
    return {
      kind,
      loadMs,
      startMs: spawnedMs,
      peakRssMB: memory(server.pid).peak / 2 ** 20,
      eventLoopMaxMs: server.eventLoop()?.maxMs ?? null,
      correct: exact,
    }
  } finally {
    await server.stop()
  }
}

export async function run(ctx) {
  const edits = ctx.quick ? 20_000 : loadTrace().patches.length
  const trace = traceUpdates(edits, { clientID: 1 })
  const expected = expectedText(edits)
  if (trace.text !== expected) throw new Error('Yjs replay of the trace differs from the string replay')
  const docs = [[DOC, trace.updates]]
  const dirs = {}
  const timings = {}
  let t = performance.now()
  dirs.rhizome = await tempDir('cold-rhizome')
  await writeRhizome(dirs.rhizome, docs)
  timings.rhizomeWriteMs = performance.now() - t
  t = performance.now()
  dirs.yleveldb = await tempDir('cold-yleveldb')
  await writeYLeveldb(dirs.yleveldb, docs)
  timings.yleveldbWriteMs = performance.now() - t
  dirs.hocuspocus = join(await tempDir('cold-hocuspocus'), 'db.sqlite')
  await writeHocuspocus(dirs.hocuspocus, docs)
  // y-leveldb compacts on the first load: every measurement gets its own copy of the directory.
  const copy = async (dir) => {
    const to = join(await tempDir('cold-copy'), 'data')
    execFileSync('cp', ['-r', dir, to])
    return to
  }
  ctx.log(`  datasets written (${edits} updates): ${JSON.stringify(timings)}`)

  // Storage only, in this process.
  const storage = {}
  {
    const db = new ClassicLevel(await copy(dirs.rhizome), { valueEncoding: 'view' })
    await db.open()
    const store = await DocStore.open(db)
    const doc = new Y.Doc()
    const t0 = performance.now()
    await store.loadInto(DOC, doc)
    storage.rhizome = { loadMs: performance.now() - t0, correct: doc.getText('t').toString() === expected }
    await store.close()
  }
  {
    const ldb = new LeveldbPersistence(await copy(dirs.yleveldb))
    const t0 = performance.now()
    const doc = await ldb.getYDoc(DOC)
    storage['y-leveldb'] = {
      loadMs: performance.now() - t0,
      correct: doc.getText('t').toString() === expected,
    }
    await ldb.destroy()
  }
  ctx.log(`  storage only: ${JSON.stringify(storage)}`)

  const results = {}
  const sources = { rhizome: dirs.rhizome, 'yws-leveldb': dirs.yleveldb, hocuspocus: dirs.hocuspocus }
  for (const kind of ctx.kinds(['rhizome', 'yws-leveldb', 'hocuspocus'])) {
    const data =
      kind === 'hocuspocus'
        ? join(await copy(join(sources[kind], '..')), 'db.sqlite')
        : await copy(sources[kind])
    results[kind] = await loadThroughServer(kind, data, expected, ctx)
    const r = results[kind]
    ctx.log(
      `  ${kind}: synced in ${r.loadMs.toFixed(0)} ms, peak RSS ${r.peakRssMB.toFixed(0)} MB, correct=${r.correct}`,
    )
  }
  return { params: { edits, finalChars: expected.length }, storage, results, timings }
}
