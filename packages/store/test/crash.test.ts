import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { digestOfDoc } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import { afterEach, beforeAll, expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { DocStore } from '../src/index.js'
import { collect } from './helpers.js'

const FILE = 'packages/store/test/crash.test.ts'
const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..')
const fixture = join(here, 'fixtures', 'crash-writer.mjs')
const KILLS = Number(process.env.CRASH_KILLS ?? 24)

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

beforeAll(() => {
  // The child imports the built store; build it (incrementally) so it matches the sources under test.
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
  const built = spawnSync(process.execPath, [tsc, '-b', 'packages/store'], { cwd: root, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`building packages/store failed:\n${built.stdout}${built.stderr}`)
}, 120_000)

interface RunResult {
  acks: { doc: number; update: Uint8Array }[]
  killed: boolean
  stderr: string
}

/** Runs the writer once and kill -9s it `delayMs` after it is ready (or after spawn when `early`). */
function runOnce(
  dir: string,
  seed: number,
  run: number,
  delayMs: number,
  early: boolean,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [fixture, dir, String(seed), String(run)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    const acks: RunResult['acks'] = []
    let buffered = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    const arm = () => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs)
    }
    if (early) arm()
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()! // a line cut by the kill is not an acknowledgement we saw
      for (const line of lines) {
        if (line === 'ready') arm()
        else if (line.startsWith('ack ')) {
          const [, doc, b64] = line.split(' ')
          acks.push({ doc: Number(doc), update: new Uint8Array(Buffer.from(b64!, 'base64')) })
        }
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      resolve({ acks, killed: signal === 'SIGKILL', stderr })
    })
  })
}

it(`loses no acknowledged append across ${KILLS} kill -9s`, async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    const dir = await mkdtemp(join(tmpdir(), 'rhizome-crash-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const acked = new Map<number, Uint8Array[]>()
    let kills = 0
    let total = 0
    for (let run = 0; run < KILLS; run++) {
      // Mostly kill while writing; sometimes early, while the store opens or the first batches commit.
      const early = rnd() < 0.2
      const delay = early ? 50 + rnd() * 250 : rnd() * 400
      const result = await runOnce(dir, seed, run, delay, early)
      if (!result.killed) throw new Error(`writer run ${run} exited on its own:\n${result.stderr}`)
      kills++
      total += result.acks.length
      for (const { doc, update } of result.acks) {
        const list = acked.get(doc) ?? []
        list.push(update)
        acked.set(doc, list)
      }
    }
    expect(kills).toBeGreaterThanOrEqual(20)
    expect(total).toBeGreaterThan(100) // the runs did real work

    const store = await DocStore.open(new ClassicLevel(dir))
    cleanups.push(() => store.close())
    // Reopens without manual repair.
    expect(await collect(store.corruptDocs())).toEqual([])
    const digests = new Map<string, string>()
    for (const [doc, updates] of acked) {
      const name = `doc-${doc}`
      const loaded = new Y.Doc()
      expect(await store.loadInto(name, loaded)).toBe(true)
      const before = digestOfDoc(loaded)
      // Applying what was acknowledged must change nothing: it is all in the store already.
      Y.transact(loaded, () => {
        for (const u of updates) Y.applyUpdate(loaded, u)
      })
      expect(digestOfDoc(loaded), `${name}: acknowledged updates missing after kill -9`).toBe(before)
      expect(loaded.store.pendingStructs).toBeNull()
      digests.set(name, before)
    }
    for (const entry of await collect(store.catalog())) {
      if (digests.has(entry.name)) expect(entry.digest).toBe(digests.get(entry.name))
    }
    console.log(`crash test: seed ${seed}, ${kills} kills, ${total} acknowledged appends verified`)
  })
}, 120_000)
