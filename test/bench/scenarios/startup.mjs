// Start-up against data size (issue 5/6): a relay over N small stored documents must answer
// /healthz within 1.5x the time of one over 1,000, since start-up reads no data (integrity moved
// to reads and the background scrubber). Median of several starts each, in the same run.
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import * as Y from 'yjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { percentile } from '../lib/stats.mjs'

export const title = 'Start-up: /healthz after start, against data size'

/** Writes `count` small documents into a relay data directory (what a relay would have stored). */
async function fill(dir, count) {
  const store = await DocStore.open(new ClassicLevel(dir, { valueEncoding: 'view' }))
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'x'.repeat(100))
  const update = Y.encodeStateAsUpdate(doc)
  for (let i = 0; i < count; i += 5000) {
    const writes = []
    for (let j = i; j < Math.min(count, i + 5000); j++)
      writes.push(store.append(`docs/${String(j).padStart(6, '0')}`, update))
    await Promise.all(writes)
  }
  await store.close()
}

/** Milliseconds from spawning the relay until /healthz answers 200. */
async function healthzAfterStart(dir) {
  const t0 = performance.now()
  const relay = await startServer('rhizome', { data: dir })
  try {
    for (;;) {
      try {
        if ((await fetch(`${relay.httpUrl}/healthz`)).ok) return performance.now() - t0
      } catch {}
    }
  } finally {
    await relay.stop()
  }
}

export async function run(ctx) {
  const small = ctx.quick ? 100 : 1000
  const large = ctx.quick ? 5000 : 100_000
  const starts = ctx.quick ? 3 : 7
  const results = {}
  if (!ctx.kinds(['rhizome']).length) return { params: { small, large }, results }
  const dirs = { small: await tempDir('startup-small'), large: await tempDir('startup-large') }
  await fill(dirs.small, small)
  await fill(dirs.large, large)
  for (const [k, dir] of Object.entries(dirs)) {
    const times = []
    for (let i = 0; i < starts; i++) times.push(await healthzAfterStart(dir))
    results[k] = { medianMs: percentile(times, 50), runs: times.map((t) => Math.round(t)) }
    ctx.log(
      `  ${k === 'small' ? small : large} docs: /healthz after ${results[k].medianMs.toFixed(0)} ms (median of ${starts})`,
    )
  }
  results.ratio = results.large.medianMs / results.small.medianMs
  return { params: { small, large, starts }, results }
}
