// Scenario 5, recovery: relay A holds N documents (~10 KB each); an empty relay B started with
// `--peers A` refills itself. Time from B's start until its catalog equals A's (same names, same
// digests), against `cp -r` of A's data directory (the physical floor) and the target of
// 2 s for 10,000 documents (50 MB/s). Then the same refill from three peers at once (A and two
// copies of its directory, each with a store id of its own): it must be no slower than from one.
// Leaves A's directory to the idle scenario.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { catalogOf } from '../../support/catalog.mjs'
import { writeRhizome } from '../lib/datasets.mjs'
import { syntheticDocs } from '../lib/docs.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { sleep } from '../lib/stats.mjs'

export const title = 'Recovery: an empty relay refills from one peer, and from three at once'

/** The refill target of the issue: 10,000 documents (99 MB) in 2 s. */
export const TARGET_MS = 2_000

function du(dir) {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0])
}

/**
 * Compacts a freshly written data directory completely, as a relay that has run for a while has
 * it: the refill measures reading a peer in its steady state, not LevelDB's compaction of a
 * 100 MB write that just happened.
 */
async function compactFully(dir) {
  const db = new ClassicLevel(dir)
  await db.open()
  await db.compactRange('', '\uffff')
  await db.close()
}

/** A copy of a relay's data directory that is a store of its own (a new store id on open). */
async function copyAsNewStore(dir, prefix) {
  const copy = join(await tempDir(prefix), 'copy')
  execFileSync('cp', ['-r', dir, copy])
  const db = new ClassicLevel(copy)
  await db.open()
  await db.del('s:id')
  await db.close()
  return copy
}

/** Starts an empty relay peered with `sources` and times it until its catalog equals `expected`. */
async function refill(sources, expected, count, profile) {
  const t0 = performance.now()
  const b = await startServer('rhizome', { peers: sources.map((s) => s.url), profile })
  try {
    let converged = false
    while (!converged) {
      if (performance.now() - t0 > 600_000) throw new Error('recovery did not converge in 10 minutes')
      const health = await (await fetch(`${b.httpUrl}/healthz`)).json()
      if (health.docs >= count && !health.recovering) {
        const got = await catalogOf(b.httpUrl)
        converged = got.size === expected.size && [...expected].every(([name, d]) => got.get(name) === d)
      }
      if (!converged) await sleep(20)
    }
    return performance.now() - t0
  } finally {
    await b.stop()
  }
}

export async function run(ctx) {
  const count = Number(process.env.BENCH_RECOVERY_DOCS) || (ctx.quick ? 300 : 10_000)
  const dirA = await tempDir('recovery-a')
  const t = performance.now()
  await writeRhizome(dirA, syntheticDocs(count))
  const writeMs = performance.now() - t
  await compactFully(dirA)
  const bytes = du(dirA)
  ctx.log(
    `  ${count} docs, ${(bytes / 2 ** 20).toFixed(1)} MB on disk, written in ${(writeMs / 1000).toFixed(1)} s`,
  )

  const copyTo = join(await tempDir('recovery-cp'), 'copy')
  const c0 = performance.now()
  execFileSync('cp', ['-r', dirA, copyTo])
  const cpMs = performance.now() - c0
  const extra = [await copyAsNewStore(dirA, 'recovery-c'), await copyAsNewStore(dirA, 'recovery-d')]

  const profile = ctx.profileFor('recovery', 'rhizome')
  const a = await startServer('rhizome', { data: dirA, profile: profile && join(profile, 'source') })
  const others = []
  try {
    const expected = await catalogOf(a.httpUrl)
    const recoveryMs = await refill([a], expected, count, profile)
    ctx.log(`  from one peer: ${(recoveryMs / 1000).toFixed(2)} s; cp -r ${(cpMs / 1000).toFixed(2)} s`)
    for (const dir of extra) others.push(await startServer('rhizome', { data: dir }))
    for (const o of others) {
      const theirs = await catalogOf(o.httpUrl)
      if (theirs.size !== expected.size) throw new Error('a copied peer does not hold the same documents')
    }
    const threePeersMs = await refill([a, ...others], expected, count)
    ctx.log(`  from three peers at once: ${(threePeersMs / 1000).toFixed(2)} s`)
    ctx.shared.storedDocs = { dir: dirA, count }
    return {
      params: { docs: count, bytesOnDisk: bytes },
      results: {
        recoveryMs,
        threePeersMs,
        cpMs,
        // The target is stated for 10,000 documents; start-up alone dominates a small refill.
        targetMs: count === 10_000 ? TARGET_MS : null,
        mbPerSecond: bytes / 2 ** 20 / (recoveryMs / 1000),
        ratio: recoveryMs / cpMs,
        correct: true,
        docs: expected.size,
      },
    }
  } finally {
    for (const o of others) await o.stop()
    await a.stop()
  }
}
