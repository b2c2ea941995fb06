import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Prng, testSeed } from '../support/seed.mjs'
import { Cluster, type ClusterOptions } from './Cluster.js'
import { type CheckResult, check } from './checker.js'
import { Nemesis } from './Nemesis.js'
import { Workload } from './Workload.js'

/** Per-test timeout: above every internal deadline, so a stuck run fails with its report. */
export const SCENARIO_TIMEOUT_MS = 240_000

const FAILURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '.failures')

/** True for the 30-minute soak (`CHAOS_LONG=1`). */
export const CHAOS_LONG = process.env.CHAOS_LONG === '1'

/** What a scenario body gets. */
export interface ScenarioContext {
  seed: number
  rng: Prng
  cluster: Cluster
  nemesis: Nemesis
  workload: Workload
  /** The relay the checker reads final documents from (default: the first). */
  setReference(name: string): void
}

export interface ScenarioOptions extends Partial<ClusterOptions> {
  /** Mean pause between workload edits. */
  editIntervalMs?: number
  /** Deadline for convergence after the heal. */
  quietTimeoutMs?: number
}

/** Waits `ms` — only to let the workload and the faults run for a while, never to wait for an outcome. */
export function during(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function replayCommand(name: string, seed: number): string {
  return `SEED=${seed} pnpm test:chaos -- -t ${name}`
}

function describeFailures(result: CheckResult): string {
  const parts: string[] = []
  if (result.lost.length > 0) {
    parts.push(
      `lost ${result.lost.length} acknowledged edits:\n${result.lost
        .slice(0, 30)
        .map(
          (l) =>
            `  ${l.token} (${l.record.kind} on ${l.record.doc}, issued ${l.record.issuedAt} ms, local ${l.record.localAt ?? '-'} ms, copies ${l.record.copies} at ${l.record.copiesAt ?? '-'} ms): ${l.why}`,
        )
        .join('\n')}`,
    )
  }
  if (result.unexpected.length > 0)
    parts.push(`unexpected content:\n  ${result.unexpected.slice(0, 30).join('\n  ')}`)
  if (result.diverged.length > 0) parts.push(`not converged:\n  ${result.diverged.slice(0, 30).join('\n  ')}`)
  if (result.dead.length > 0) parts.push(`died without the nemesis:\n  ${result.dead.join('\n  ')}`)
  return parts.join('\n')
}

/**
 * Runs one chaos scenario: starts a cluster, runs `body` (faults while the workload writes),
 * stops the workload, heals every fault, waits for quiet and checks lost / unexpected /
 * converged / alive. Prints the figures; on failure prints the seed, the replay command and the
 * timeline, writes the full report under test/chaos/.failures/, and throws.
 */
export async function runScenario(
  name: string,
  options: ScenarioOptions,
  body: (ctx: ScenarioContext) => Promise<void>,
): Promise<CheckResult> {
  const seed = testSeed()
  const rng = new Prng(seed)
  const cluster = await Cluster.start({
    relays: options.relays ?? 3,
    devices: options.devices ?? 3,
    docs: options.docs ?? 24,
    deviceBackoff: options.deviceBackoff,
    relayArgs: options.relayArgs,
  })
  let reference = cluster.relays[0]!.name
  const nemesis = new Nemesis(cluster, rng.fork())
  const workload = new Workload(
    rng.fork(),
    () => cluster.devices,
    cluster.docs,
    cluster.history,
    options.editIntervalMs ?? 40,
  )
  cluster.history.log('info', `scenario ${name}, seed ${seed}`)
  if (process.env.CHAOS_DEBUG === '1') {
    let shown = 0
    const timer = setInterval(() => {
      const entries = cluster.history.timeline
        .slice(shown)
        .filter((e) => e.kind !== 'edit' && e.kind !== 'ack')
      shown = cluster.history.timeline.length
      if (entries.length > 0) console.log(cluster.history.format(entries))
    }, 1000)
    timer.unref()
  }
  let result: CheckResult | null = null
  try {
    await body({ seed, rng, cluster, nemesis, workload, setReference: (r) => (reference = r) })
    workload.stop()
    await nemesis.healAll()
    result = await check(cluster, { quietTimeoutMs: options.quietTimeoutMs ?? 90_000, reference })
    const f = result.figures
    console.log(
      `[chaos] ${name} seed=${seed}: edits=${f.edits} applied=${f.applied} acknowledged=${f.acknowledged} ` +
        `(copies>=1: ${f.acked1}, >=2: ${f.acked2}, >=3: ${f.acked3}) faults=${f.faults} lost=${f.lost} ` +
        `excused=${result.excused} unexpected=${f.unexpected} converged=${f.docsConverged} docs on ${f.replicas} ` +
        `quiet=${f.quietMs}ms`,
    )
    const failures = describeFailures(result)
    if (failures) throw new Error(failures)
    return result
  } catch (err) {
    workload.stop()
    const message = err instanceof Error ? err.message : String(err)
    const header = `chaos scenario ${name} failed with seed ${seed}\nreplay: ${replayCommand(name, seed)}`
    const report = [
      header,
      message,
      '--- timeline (faults, edits, acks)',
      cluster.history.format(),
      '--- process logs',
      cluster.logTails(40),
    ].join('\n')
    await mkdir(FAILURES_DIR, { recursive: true })
    const file = join(FAILURES_DIR, `${name}-${seed}.log`)
    await writeFile(file, report)
    const faultsAndRecent = cluster.history.timeline.filter((e) => e.kind === 'fault' || e.kind === 'heal')
    console.error(
      [
        header,
        message,
        '--- faults',
        cluster.history.format(faultsAndRecent),
        '--- last 60 timeline entries',
        cluster.history.format(cluster.history.timeline.slice(-60)),
        `--- full timeline and process logs: ${file}`,
      ].join('\n'),
    )
    throw new Error(`${header}\n${message.slice(0, 4000)}\nfull report: ${file}`, { cause: err })
  } finally {
    workload.stop()
    await cluster.teardown()
  }
}
