import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const START_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../demo/scripts/start.mjs')

/** A running `demo/scripts/start.mjs`: three relays, the supervisor and the app. */
export interface DemoServer {
  web: string
  control: string
  relays: string[]
  dataRoot: string
  /** Everything the supervisor printed. */
  log: string[]
  /** SIGTERM to the whole process group (Ctrl-C's path), SIGKILL after 10 s; removes the data. */
  stop(): Promise<number | null>
}

/**
 * Starts the demo on free ports with a temp data directory, as `pnpm start` would but without
 * the build step (`pnpm test` builds first). `preview` serves the production bundle.
 */
export async function startDemo(options: { preview?: boolean } = {}): Promise<DemoServer> {
  const dataRoot = await mkdtemp(join(tmpdir(), 'rhizome-demo-'))
  const args = [START_SCRIPT, '--free-ports', '--no-build', '--data', dataRoot]
  if (options.preview) args.push('--preview')
  // Its own process group, so teardown reaches the relays even if the supervisor hangs.
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const log: string[] = []
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let running = true
  void exited.then(() => {
    running = false
  })
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal)
    } catch {
      // The group is gone already.
    }
  }
  const stop = async (): Promise<number | null> => {
    if (running) signalGroup('SIGTERM')
    const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000)
    const code = await exited
    clearTimeout(timer)
    signalGroup('SIGKILL') // a relay that somehow outlived the supervisor
    await rm(dataRoot, { recursive: true, force: true })
    return code
  }
  child.stderr!.setEncoding('utf8').on('data', (s: string) => log.push(s))
  try {
    const ready = await new Promise<{ web: string; control: string; relays: string[] }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`demo did not start within 60 s:\n${log.join('')}`)),
        60_000,
      )
      let buffered = ''
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        log.push(s)
        buffered += s
        const m = /rhizome-demo ready (\{.*\})\n/.exec(buffered)
        if (m) {
          clearTimeout(timer)
          resolve(JSON.parse(m[1]!))
        }
      })
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`demo exited with ${code} before it was ready:\n${log.join('')}`))
      })
    })
    return { ...ready, dataRoot, log, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
