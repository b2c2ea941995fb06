import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../support/ports.js'
import { ChaosDevice, type DeviceReplication } from './ChaosDevice.js'
import { ChaosRelay } from './ChaosRelay.js'
import { CHAOS_NAMESPACE, openedBy } from './deviceDocs.js'
import { FaultProxy } from './FaultProxy.js'
import { History } from './History.js'
import type { UnexpectedDeath } from './ManagedProcess.js'
import { docNames } from './Workload.js'

/** Shape of a chaos run. */
export interface ClusterOptions {
  relays: number
  devices: number
  docs: number
  /** Device reconnect schedule (see {@link DeviceReplication.backoff}); default: the suite's quick one. */
  deviceBackoff?: DeviceReplication['backoff']
  /** Extra relay CLI arguments (e.g. `--max-new-docs-per-minute 0` for runs with many new documents). */
  relayArgs?: string[]
}

/** A free loopback port, released again so a relay can bind it for its whole life. */

/**
 * The system under test: relays as real processes on fixed ports, devices as child processes, and
 * a {@link FaultProxy} on every link. Relay `ri` reaches relay `rj` through proxy `ri->rj` (its
 * `--peers` list holds only proxy URLs); device `dk` reaches relay `ri` through proxy `dk->ri`.
 * Everything it starts is registered for {@link Cluster.teardown}.
 */
export class Cluster {
  readonly history = new History()
  readonly relays: ChaosRelay[] = []
  readonly devices: ChaosDevice[] = []
  /** Every proxy by link name (`r0->r1`, `d2->r0`). */
  readonly links = new Map<string, FaultProxy>()
  readonly docs: string[]
  #deviceCount = 0
  readonly #deviceBackoff: DeviceReplication['backoff']

  private constructor(
    readonly root: string,
    options: ClusterOptions,
  ) {
    this.docs = docNames(options.docs)
    this.#deviceBackoff = options.deviceBackoff
  }

  /** Starts every relay (all at once, so they find each other) and every device. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const root = await mkdtemp(join(tmpdir(), 'rhizome-chaos-'))
    const cluster = new Cluster(root, options)
    try {
      const ports: number[] = []
      for (let i = 0; i < options.relays; i++) ports.push(await freePort())
      for (let i = 0; i < options.relays; i++) {
        const peers: string[] = []
        for (let j = 0; j < options.relays; j++) {
          if (i === j) continue
          peers.push((await cluster.#proxy(`r${i}->r${j}`, ports[j]!)).url)
        }
        cluster.relays.push(
          new ChaosRelay(`r${i}`, ports[i]!, join(root, `r${i}`), peers, options.relayArgs ?? []),
        )
      }
      await Promise.all(cluster.relays.map((r) => r.start()))
      for (let k = 0; k < options.devices; k++) await cluster.addDevice()
      cluster.history.log(
        'info',
        `cluster up: ${options.relays} relays, ${options.devices} devices, ${options.docs} docs in ${root}`,
      )
      return cluster
    } catch (err) {
      await cluster.teardown()
      throw err
    }
  }

  async #proxy(name: string, target: number): Promise<FaultProxy> {
    const proxy = new FaultProxy(name, target)
    this.links.set(name, proxy)
    await proxy.listen()
    return proxy
  }

  /**
   * Starts one more device (with its own proxies and an empty store) and returns it. It replicates
   * the whole chaos namespace and opens the documents {@link openedBy} gives its index.
   */
  async addDevice(name = `d${this.#deviceCount++}`): Promise<ChaosDevice> {
    const urls: string[] = []
    for (const relay of this.relays) urls.push((await this.#proxy(`${name}->${relay.name}`, relay.port)).url)
    const device = new ChaosDevice(name, join(this.root, name), urls, this.docs, this.history, {
      replicate: [CHAOS_NAMESPACE],
      open: openedBy(this.devices.length, this.docs),
      backoff: this.#deviceBackoff,
    })
    this.devices.push(device)
    await device.start()
    return device
  }

  relay(name: string): ChaosRelay {
    const r = this.relays.find((x) => x.name === name)
    if (!r) throw new Error(`no relay ${name}`)
    return r
  }

  device(name: string): ChaosDevice {
    const d = this.devices.find((x) => x.name === name)
    if (!d) throw new Error(`no device ${name}`)
    return d
  }

  /** Both directions of the mesh link between two relays. */
  meshLinks(a: string, b: string): FaultProxy[] {
    return [this.links.get(`${a}->${b}`), this.links.get(`${b}->${a}`)].filter((p): p is FaultProxy => !!p)
  }

  /** Every link that touches `node` (a relay's mesh and device links, or a device's links). */
  linksOf(node: string): FaultProxy[] {
    return [...this.links.entries()]
      .filter(([name]) => name.split('->').includes(node))
      .map(([, proxy]) => proxy)
  }

  /** Process deaths the nemesis did not cause. */
  unexpectedDeaths(): UnexpectedDeath[] {
    return [...this.relays.map((r) => r.proc), ...this.devices.map((d) => d.proc)].flatMap((p) => p.deaths)
  }

  /** Log tails of every process, for failure reports. */
  logTails(lines = 15): string {
    return [...this.relays.map((r) => r.proc), ...this.devices.map((d) => d.proc)]
      .map((p) => `--- ${p.name} (last ${lines} lines)\n${p.log.slice(-lines).join('\n')}`)
      .join('\n')
  }

  /** Kills every process, closes every proxy and removes the temp directory. */
  async teardown(): Promise<void> {
    await Promise.allSettled([...this.devices.map((d) => d.kill9()), ...this.relays.map((r) => r.kill9())])
    await Promise.allSettled([...this.links.values()].map((p) => p.close()))
    await rm(this.root, { recursive: true, force: true })
  }
}
