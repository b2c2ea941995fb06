import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'

/** How long a relay may take to print its listening line before start() rejects. */
const START_TIMEOUT_MS = 15_000
/** How long a SIGTERM'd relay may take to flush and exit before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 5_000
/** Events kept for the chaos panel's activity log. */
const MAX_EVENTS = 30

/**
 * @typedef {'starting' | 'running' | 'stopping' | 'stopped' | 'crashed'} ProcessState
 * @typedef {{ at: number, relay: string | null, text: string }} SupervisorEvent
 */

/**
 * One relay process the demo controls: a real `rhizome-relay` on a fixed port and data directory,
 * meshed with the other relays of the demo. It never restarts by itself: killing and wiping relays
 * is what the demo is for, so bringing one back is always the user's action.
 */
class SupervisedRelay {
  /**
   * @param {{ n: number, port: number, dataDir: string, peers: string[], cli: string,
   *   meshSecret: string, logLevel: string, onEvent: (relay: SupervisedRelay, text: string) => void,
   *   onOutput: (relay: SupervisedRelay, line: string) => void }} options
   */
  constructor(options) {
    this.n = options.n
    this.id = `relay-${options.n}`
    this.port = options.port
    this.url = `ws://127.0.0.1:${options.port}`
    this.httpUrl = `http://127.0.0.1:${options.port}`
    this.dataDir = options.dataDir
    this.options = options
    /** @type {ProcessState} */
    this.state = 'stopped'
    /** @type {import('node:child_process').ChildProcess | null} */
    this.child = null
    /** @type {Promise<void>} */
    this.exited = Promise.resolve()
    this.startedAt = 0
    this.wipes = 0
  }

  /** Starts the process and resolves once it listens. No-op while it runs. */
  async start() {
    if (this.child !== null) return
    const args = [this.options.cli, '--port', String(this.port), '--data', this.dataDir, '--id', this.id]
    if (this.options.peers.length > 0) args.push('--peers', this.options.peers.join(','))
    args.push('--log-level', this.options.logLevel)
    // In the environment, not argv: other local users can read a process's arguments.
    const env = { ...process.env, RHIZOME_MESH_SECRET: this.options.meshSecret }
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    this.state = 'starting'
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.child = null
        if (this.state !== 'stopping') {
          this.state = 'crashed'
          this.options.onEvent(this, `exited unexpectedly (${signal ?? `code ${code}`})`)
        } else {
          this.state = 'stopped'
        }
        resolve()
      })
    })
    await new Promise((resolve, reject) => {
      let buffered = ''
      const timer = setTimeout(() => {
        reject(new Error(`${this.id} did not start within ${START_TIMEOUT_MS} ms`))
      }, START_TIMEOUT_MS)
      const onExit = (code) => {
        clearTimeout(timer)
        reject(new Error(`${this.id} exited with code ${code} before listening on port ${this.port}`))
      }
      child.once('exit', onExit)
      const forward = (stream) => {
        let partial = ''
        stream.setEncoding('utf8').on('data', (chunk) => {
          buffered += chunk
          if (this.state === 'starting' && /rhizome-relay \S+ listening on/.test(buffered)) {
            clearTimeout(timer)
            child.off('exit', onExit)
            this.state = 'running'
            this.startedAt = Date.now()
            resolve()
          }
          const lines = (partial + chunk).split('\n')
          partial = lines.pop() ?? ''
          for (const line of lines) if (line.trim() !== '') this.options.onOutput(this, line)
        })
      }
      forward(child.stdout)
      forward(child.stderr)
    })
  }

  /** SIGKILL, as a crash or a power cut would; resolves once the process is gone. */
  async kill() {
    if (this.child === null) return
    this.state = 'stopping'
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM (the relay flushes and exits), SIGKILL if it takes longer than STOP_TIMEOUT_MS. */
  async stop() {
    const child = this.child
    if (child === null) return
    this.state = 'stopping'
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  /** Kills the process and deletes its data directory: the disk is gone. */
  async wipe() {
    await this.kill()
    await rm(this.dataDir, { recursive: true, force: true })
    this.wipes++
  }

  /** The relay's /healthz, or null when it does not answer within 800 ms. */
  async health() {
    if (this.state !== 'running') return null
    try {
      const res = await fetch(`${this.httpUrl}/healthz`, { signal: AbortSignal.timeout(800) })
      return res.ok ? await res.json() : null
    } catch {
      return null
    }
  }
}

/**
 * The demo's relays: `count` relays on loopback, each peered with all others, data under
 * `<dataRoot>/relay-N`. Every action is logged as an event the app shows.
 */
export class RelaySupervisor {
  /**
   * @param {{ ports: number[], dataRoot: string, cli: string, logLevel?: string,
   *   log?: (line: string) => void }} options
   */
  constructor(options) {
    const urls = options.ports.map((p) => `ws://127.0.0.1:${p}`)
    // One fresh secret per demo run: a mesh link always needs one, and nobody else needs to know it.
    const meshSecret = randomBytes(24).toString('base64url')
    /** @type {SupervisorEvent[]} */
    this.events = []
    this.log = options.log ?? ((line) => process.stdout.write(`${line}\n`))
    this.relays = options.ports.map(
      (port, i) =>
        new SupervisedRelay({
          n: i + 1,
          port,
          dataDir: join(options.dataRoot, `relay-${i + 1}`),
          peers: urls.filter((_, j) => j !== i),
          cli: options.cli,
          logLevel: options.logLevel ?? 'warn',
          meshSecret,
          onEvent: (relay, text) => this.event(relay, text),
          onOutput: (relay, line) => this.log(`[${relay.id}] ${line}`),
        }),
    )
  }

  /** @param {SupervisedRelay | null} relay @param {string} text */
  event(relay, text) {
    this.events.push({ at: Date.now(), relay: relay?.id ?? null, text })
    if (this.events.length > MAX_EVENTS) this.events.shift()
    this.log(`[supervisor] ${relay ? `${relay.id} ` : ''}${text}`)
  }

  /** @param {number} n 1-based relay number @returns {SupervisedRelay | undefined} */
  relay(n) {
    return this.relays[n - 1]
  }

  async startAll() {
    await Promise.all(this.relays.map((r) => r.start()))
  }

  /** @param {SupervisedRelay} relay */
  async kill(relay) {
    await relay.kill()
    this.event(relay, 'killed (SIGKILL)')
  }

  /** @param {SupervisedRelay} relay */
  async wipe(relay) {
    await relay.wipe()
    this.event(relay, 'disk wiped; the relay is down until restarted')
  }

  /** Stops the relay if it runs, then starts it on the same port and data directory. */
  async restart(relay) {
    await relay.stop()
    await relay.start()
    this.event(relay, 'restarted')
  }

  /** "The 2009 outage": every relay killed and its disk wiped at once. */
  async outage() {
    await Promise.all(this.relays.map((r) => r.wipe()))
    this.event(null, 'the 2009 outage: all relays killed and their disks wiped')
  }

  /** Starts every relay that is not running. */
  async restartAll() {
    await Promise.all(this.relays.map((r) => r.start()))
    this.event(null, 'all relays started')
  }

  /** Stops every relay gracefully (used on Ctrl-C). */
  async stopAll() {
    await Promise.all(this.relays.map((r) => r.stop()))
  }

  /** Kills every relay at once (last resort on shutdown). */
  killAllNow() {
    for (const r of this.relays) r.child?.kill('SIGKILL')
  }

  /** What the app shows: every relay's process state and health, and the recent events. */
  async snapshot() {
    const relays = await Promise.all(
      this.relays.map(async (r) => {
        const health = await r.health()
        return {
          n: r.n,
          id: r.id,
          url: r.url,
          port: r.port,
          state: r.state,
          pid: r.child?.pid ?? null,
          wipes: r.wipes,
          docs: health?.docs ?? null,
          recovering: health?.recovering ?? null,
          peers: health?.peers ?? null,
        }
      }),
    )
    return { relays, events: this.events }
  }
}
