import { execFileSync, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { Cleanup, tempDir } from './support.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const dist = join(root, 'packages/client/dist/index.js')
const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => stopAllRelays())

// The child runs the built package, so build it first (incremental, fast when up to date).
beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/client'], {
    cwd: root,
  })
})

const script = `
import { openReplica } from ${JSON.stringify(dist)}
const [live, dead, storage] = process.argv.slice(1)
const replica = await openReplica({ relays: [live, dead], storage, backoff: { initialMs: 20, maxMs: 100 } })
const handle = await replica.open('exit/doc')
const other = await replica.open('exit/other')
handle.doc.getText('t').insert(0, 'bye')
handle.awareness.setLocalStateField('user', 'child')
await handle.whenSynced({ timeout: 10000 })
await handle.whenDurable(1, { timeout: 10000 })
await other.close()
// The dead relay has a retry timer pending right now; close must clear it.
await replica.close()
console.log('closed ' + JSON.stringify(process.getActiveResourcesInfo()))
`

describe('replica.close()', () => {
  it('leaves nothing running: a Node process exits by itself right after', async () => {
    const relay = await startRelay()
    const deadRelay = await startRelay()
    await deadRelay.stop()
    const storage = await tempDir(cleanup)
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, relay.url, deadRelay.url, storage],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    cleanup.add(async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s
    })
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      out += s
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    // Deadline: 20 s for the whole run; the exit must follow "closed" within 2 s.
    const closedAt = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never closed:\n${out}`)), 20_000)
      child.stdout.on('data', () => {
        if (out.includes('closed')) {
          clearTimeout(timer)
          resolve(Date.now())
        }
      })
      child.once('exit', () => {
        clearTimeout(timer)
        if (!out.includes('closed')) reject(new Error(`child exited early:\n${out}`))
      })
    })
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 2000))])
    expect(code, out).toBe(0)
    expect(Date.now() - closedAt).toBeLessThan(2000)
    // Right after close: no timer and no socket left, only the stdio pipes.
    const resources = JSON.parse(/closed (\[.*\])/.exec(out)![1]!) as string[]
    expect(
      resources.filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap'),
      out,
    ).toEqual([])
  })
})
