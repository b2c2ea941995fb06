import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TEST_MESH_SECRET } from './meshSecret.js'
import { freePort } from './ports.js'

/** The built relay CLI; `pnpm test` builds it before running any test. */
export const RELAY_CLI = join(dirname(fileURLToPath(import.meta.url)), '../../server/dist/cli.js')

export { TEST_MESH_SECRET }

export interface RelayOptions {
  /** Data directory; a fresh temp dir (removed at stopAllRelays) when omitted. */
  dataDir?: string
  /** Peer relay URLs (`--peers`). */
  peers?: string[]
  /** Extra CLI arguments. */
  args?: string[]
  /** Extra environment. */
  env?: Record<string, string>
  /**
   * `--mesh-secret`; {@link TEST_MESH_SECRET} by default, so that any two test relays can peer.
   * `null` starts the relay without one. Ignored when `args` or `env` already give one.
   */
  meshSecret?: string | null
}

/** A relay running as a real `rhizome-relay` process. */
export interface RelayProcess {
  /** `ws://127.0.0.1:PORT` (`wss://` with TLS), stable across restarts. */
  readonly url: string
  readonly httpUrl: string
  readonly port: number
  readonly dataDir: string
  /** Relay id printed at start. */
  readonly id: string
  /** Everything the process wrote to stdout and stderr, across restarts. */
  readonly log: string[]
  /** The current process, or null while stopped. */
  readonly child: ChildProcess | null
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>
  /** Starts again on the same port and data directory. */
  start(): Promise<void>
}

const running = new Set<RelayHandle>()
const tempDirs: string[] = []

class RelayHandle implements RelayProcess {
  url = ''
  httpUrl = ''
  port = 0
  id = ''
  log: string[] = []
  child: ChildProcess | null = null
  #exited: Promise<number | null> = Promise.resolve(null)

  constructor(
    readonly dataDir: string,
    readonly options: RelayOptions,
  ) {}

  async start(): Promise<void> {
    const args = [RELAY_CLI, '--port', String(this.port), '--data', this.dataDir]
    if (this.options.peers?.length) args.push('--peers', this.options.peers.join(','))
    args.push(...(this.options.args ?? []))
    const meshSecret = this.options.meshSecret === undefined ? TEST_MESH_SECRET : this.options.meshSecret
    const ownSecret =
      args.some((a) => a === '--mesh-secret' || a.startsWith('--mesh-secret=')) ||
      this.options.env?.RHIZOME_MESH_SECRET !== undefined
    if (meshSecret !== null && !ownSecret) args.push('--mesh-secret', meshSecret)
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        RHIZOME_LOG_LEVEL: process.env.RHIZOME_LOG_LEVEL ?? 'warn',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    running.add(this)
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    child.stderr!.setEncoding('utf8').on('data', (s: string) => this.log.push(s))
    await new Promise<void>((resolve, reject) => {
      let buffered = ''
      const onExit = (code: number | null) =>
        reject(new Error(`relay exited with ${code} before listening:\n${this.log.join('')}`))
      child.once('exit', onExit)
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        this.log.push(s)
        buffered += s
        const m = /rhizome-relay (\S+) listening on (wss?):\/\/([\d.]+):(\d+)/.exec(buffered)
        if (m && !this.id) this.id = m[1]!
        if (m && this.url === '') {
          // With --tls-cert the relay serves wss:// and https://.
          const tls = m[2] === 'wss'
          this.port = Number(m[4])
          this.url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}`
          this.httpUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${this.port}`
        }
        if (m) {
          child.off('exit', onExit)
          resolve()
        }
      })
    })
  }

  async stop(): Promise<number | null> {
    if (!this.child) return null
    this.child.kill('SIGTERM')
    const code = await this.#exited
    this.child = null
    return code
  }

  async kill(): Promise<void> {
    if (!this.child) return
    this.child.kill('SIGKILL')
    await this.#exited
    this.child = null
  }
}

/** Starts a relay on a free port (fixed for its lifetime) with a temp data dir unless one is given. */
export async function startRelay(options: RelayOptions = {}): Promise<RelayProcess> {
  let dataDir = options.dataDir
  if (!dataDir) {
    dataDir = await mkdtemp(join(tmpdir(), 'rhizome-relay-'))
    tempDirs.push(dataDir)
  }
  // A fixed port outside the ephemeral range, so that restarts find it free (see ports.ts); another
  // test may still win the race for it between the check and the bind: then draw again.
  for (let attempt = 0; ; attempt++) {
    const relay = new RelayHandle(dataDir, options)
    relay.port = await freePort()
    try {
      await relay.start()
      return relay
    } catch (err) {
      if (attempt >= 5 || !/EADDRINUSE/.test(String(err))) throw err
    }
  }
}

/** Kills every relay started by this module and removes the temp dirs it made. */
export async function stopAllRelays(): Promise<void> {
  await Promise.all([...running].map((r) => r.kill()))
  running.clear()
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}
