// Scenario 5, recovery: relay A holds N documents (~10 KB each); an empty relay B started with
// `--peers A` refills itself. Time from B's start until its catalog equals A's (same names, same
// digests), against `cp -r` of A's data directory. Leaves A's directory to the idle scenario.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { catalogOf } from '../../support/catalog.mjs'
import { writeRhizome } from '../lib/datasets.mjs'
import { syntheticDocs } from '../lib/docs.mjs'
import { startServer, tempDir } from '../lib/servers.mjs'
import { sleep } from '../lib/stats.mjs'

export const title = 'Recovery: an empty relay refills from one peer'

function du(dir) {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0])
}

export async function run(ctx) {
  const count = Number(process.env.BENCH_RECOVERY_DOCS) || (ctx.quick ? 300 : 10_000)
  const dirA = await tempDir('recovery-a')
  const t = performance.now()
  await writeRhizome(dirA, syntheticDocs(count))
  const writeMs = performance.now() - t
  const bytes = du(dirA)
  ctx.log(
    `  ${count} docs, ${(bytes / 2 ** 20).toFixed(1)} MB on disk, written in ${(writeMs / 1000).toFixed(1)} s`,
  )

  const copyTo = join(await tempDir('recovery-cp'), 'copy')
  const c0 = performance.now()
  execFileSync('cp', ['-r', dirA, copyTo])
  const cpMs = performance.now() - c0

  const profile = ctx.profileFor('recovery', 'rhizome')
  const a = await startServer('rhizome', { data: dirA, profile: profile && join(profile, 'source') })
  let b = null
  try {
    const expected = await catalogOf(a.httpUrl)
    const t0 = performance.now()
    b = await startServer('rhizome', { peers: [a.url], profile })
    let converged = false
    let health = null
    while (!converged) {
      if (performance.now() - t0 > 600_000) throw new Error('recovery did not converge in 10 minutes')
      health = await (await fetch(`${b.httpUrl}/healthz`)).json()
      if (health.docs >= count && !health.recovering) {
        const got = await catalogOf(b.httpUrl)
        converged = got.size === expected.size && [...expected].every(([name, d]) => got.get(name) === d)
      }
      if (!converged) await sleep(50)
    }
    const recoveryMs = performance.now() - t0
    ctx.shared.storedDocs = { dir: dirA, count }
    ctx.log(`  recovered in ${(recoveryMs / 1000).toFixed(2)} s; cp -r ${(cpMs / 1000).toFixed(2)} s`)
    return {
      params: { docs: count, bytesOnDisk: bytes },
      results: { recoveryMs, cpMs, ratio: recoveryMs / cpMs, correct: converged, docs: expected.size },
    }
  } finally {
    await b?.stop()
    await a.stop()
  }
}
