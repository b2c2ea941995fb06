import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { History } from './History.js'
import { ManagedProcess } from './ManagedProcess.js'
import type { Op } from './Workload.js'

const DEVICE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'device.mjs')

/** What a device reports per document. */
export interface DocSummary {
  digest: string
  content: string
}

interface DeviceMessage {
  type: string
  id?: number
  token?: string
  ins?: [number, number, number] | null
  del?: [number, number, number][]
  copies?: number
  docs?: Record<string, DocSummary>
  message?: string
  states?: string
}

let nextRequest = 1

/** How a device replicates: what it keeps replicated, what it opens (and edits), its reconnects. */
export interface DeviceReplication {
  /** Patterns the device keeps replicated in its store, open or not (docs/PROTOCOL.md 7.1). */
  replicate: string[]
  /** Documents it opens; the workload edits only these on this device. */
  open: string[]
  /** Reconnect schedule; null for the client's defaults, undefined for the suite's quick one. */
  backoff?: { initialMs: number; maxMs: number } | null
}

/**
 * A device: the client SDK in a child process (test/chaos/device.mjs) with its own LevelDB
 * directory, connected to every relay through its own proxies. It reports on every document of
 * `docs`, open or only replicated into its store. Edits are sent as JSON lines; what
 * the device reports about them goes straight into the {@link History}.
 */
export class ChaosDevice {
  readonly proc: ManagedProcess
  readonly #pending = new Map<number, (m: DeviceMessage) => void>()
  readonly errors: string[] = []

  constructor(
    readonly name: string,
    readonly storage: string,
    readonly relayUrls: string[],
    readonly docs: string[],
    private readonly history: History,
    readonly replication: DeviceReplication = { replicate: [], open: docs },
  ) {
    const config = { name, storage, relays: relayUrls, docs, ...replication }
    this.proc = new ManagedProcess(
      name,
      () => ({
        args: [DEVICE_SCRIPT, JSON.stringify(config)],
      }),
      true,
    )
    this.proc.onLine((line) => this.#onLine(line))
  }

  /** The documents this device has open: the only ones it edits. */
  get openDocs(): string[] {
    return this.replication.open
  }

  get running(): boolean {
    return this.proc.running
  }

  /** A device can take edits: running and not paused. */
  get writable(): boolean {
    return this.proc.running && !this.proc.paused
  }

  async start(): Promise<void> {
    await this.proc.start(/^\{"type":"ready"/, 60_000)
  }

  #onLine(line: string): void {
    if (!line.startsWith('{')) return
    let m: DeviceMessage
    try {
      m = JSON.parse(line) as DeviceMessage
    } catch {
      return
    }
    switch (m.type) {
      case 'edit':
        this.history.applied(m.token!, m.ins ?? null, m.del ?? [])
        break
      case 'local':
        this.history.local(m.token!)
        break
      case 'ack':
        this.history.acked(m.token!, m.copies!)
        break
      case 'status':
        this.history.log('info', `${this.name} sessions ${m.states}`)
        break
      case 'error':
        this.errors.push(m.message ?? 'unknown error')
        this.history.log('info', `${this.name} error: ${(m.message ?? '').split('\n')[0]}`)
        break
      default:
        if (m.id !== undefined) {
          this.#pending.get(m.id)?.(m)
          this.#pending.delete(m.id)
        }
    }
  }

  /** Sends an edit; false when the device is not running (the edit is then never applied). */
  edit(doc: string, token: string, op: Op): boolean {
    return this.proc.write(JSON.stringify({ id: nextRequest++, cmd: 'edit', doc, token, op }))
  }

  #request(cmd: string, timeoutMs: number): Promise<DeviceMessage> {
    const id = nextRequest++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`${this.name}: no answer to ${cmd} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, (m) => {
        clearTimeout(timer)
        resolve(m)
      })
      if (!this.proc.write(JSON.stringify({ id, cmd }))) {
        clearTimeout(timer)
        this.#pending.delete(id)
        reject(new Error(`${this.name} is not running`))
      }
    })
  }

  /** Digest and content hash of every document, as the device's replica holds them now. */
  async report(timeoutMs = 10_000): Promise<Record<string, DocSummary>> {
    const m = await this.#request('report', timeoutMs)
    return m.docs ?? {}
  }

  /** Graceful close (flushes the local store); kill -9 when it does not exit in time. */
  async close(timeoutMs = 15_000): Promise<void> {
    if (!this.proc.running) return
    if (this.proc.paused) this.proc.resume()
    const exited = this.proc.whenExited()
    this.#request('close', timeoutMs).catch(() => {})
    await this.proc.stop(timeoutMs, null)
    await exited
  }

  kill9(): Promise<void> {
    return this.proc.kill9()
  }

  /** Removes the local store; the device must be stopped. */
  async wipe(): Promise<void> {
    if (this.running) throw new Error(`${this.name}: wipe needs a stopped device`)
    await rm(this.storage, { recursive: true, force: true })
  }
}
