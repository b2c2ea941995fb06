import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// Keeps `pnpm bench` from rotting: the quick benchmark runs end to end in a child process against
// every peer server. It asserts that the run completed and that the correctness checks inside the
// benchmark passed (every fan-out reader holds the writers' exact texts, cold loads give the exact
// B4 text, recovery ends with equal catalogs, every ACK arrived), never on speed.
const runner = join(dirname(fileURLToPath(import.meta.url)), 'run.mjs')
let out = ''

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true })
})

describe('pnpm bench (BENCH_QUICK=1)', () => {
  it('completes every scenario with its correctness checks passing', async () => {
    out = await mkdtemp(join(tmpdir(), 'rhizome-bench-smoke-'))
    const child = spawn(process.execPath, ['--expose-gc', runner], {
      env: { ...process.env, BENCH_QUICK: '1', BENCH_OUT: out },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let log = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      log += s
    })
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      log += s
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    const line = /BENCH_RESULT (.*)/.exec(log)
    expect(line, log.slice(-4000)).not.toBeNull()
    const result = JSON.parse(line![1]!) as { ok: boolean; correct: boolean; errors: string[] }
    expect(result.errors, log.slice(-4000)).toEqual([])
    expect(result.correct, log.slice(-4000)).toBe(true)
    expect(code).toBe(0)

    const report = JSON.parse(await readFile(join(out, 'quick-latest.json'), 'utf8')) as {
      scenarios: Record<string, unknown>
      correctness: Record<string, boolean>
      versions: Record<string, string>
    }
    expect(Object.keys(report.scenarios).sort()).toEqual(
      [
        'ackLatency',
        'ackTargets',
        'coldLoad',
        'deviceRefill',
        'deviceSync',
        'fanout',
        'history',
        'httpApi',
        'idleDocs',
        'manyRooms',
        'recovery',
        'startup',
      ].sort(),
    )
    expect(Object.keys(report.correctness).length).toBeGreaterThanOrEqual(11)
    expect(Object.values(report.correctness).every(Boolean)).toBe(true)
    expect(report.versions['@hocuspocus/server']).toMatch(/^4\./)
    expect(report.versions['@y/websocket-server']).toBe('0.1.1')
    expect(await readFile(join(out, 'quick-latest.md'), 'utf8')).toContain('| Fan-out |')
  }, 300_000)
})
