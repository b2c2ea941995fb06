// Scenario 7, history: runs the store's history micro-benchmark (../history.bench.mjs) as a child
// process, so that `pnpm bench` reports it with the rest: disk bytes of the B4 trace with history
// and compacted without, restore-point exports (stateAt, what `export --at` serves) across the
// history, and a revert over the last 10,000 updates, each checked against the trace's text.
// Quick mode appends a 12,000-update prefix of the trace; otherwise the whole trace.
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../lib/servers.mjs'

export const title = 'History: disk with and without history, export at a moment, revert'
const here = dirname(fileURLToPath(import.meta.url))
const script = join(here, '..', 'history.bench.mjs')

export async function run(ctx) {
  const out = await tempDir('history-bench')
  const env = { ...process.env, BENCH_OUT: out }
  if (ctx.quick) env.HISTORY_BENCH_UPDATES = '12000'
  const child = spawn(process.execPath, ['--expose-gc', script], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  child.stdout.setEncoding('utf8').on('data', (s) => process.stdout.write(s))
  const code = await new Promise((resolve) => child.once('exit', resolve))
  // The bench names its file by date: whichever it wrote.
  const name = (await readdir(out)).find((f) => /^history-.*\.json$/.test(f))
  if (name === undefined) throw new Error(`history bench exited with ${code} and wrote no results`)
  const results = JSON.parse(await readFile(join(out, name), 'utf8'))
  const ok = code === 0 && results.revert?.ok === true && results.exports?.every((e) => e.ok) === true
  return {
    params: {
      updates: results.updates,
      spacingMs: results.spacingMs,
      revertOver: results.revert?.laterUpdates,
    },
    results: { ...results, correct: ok },
  }
}
