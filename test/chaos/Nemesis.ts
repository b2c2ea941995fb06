import type { Prng } from '../support/seed.mjs'
import type { ChaosDevice } from './ChaosDevice.js'
import type { ChaosRelay } from './ChaosRelay.js'
import type { Cluster } from './Cluster.js'
import type { FaultProxy } from './FaultProxy.js'

/** How a partition separates nodes: reset connections, or silently hold every byte. */
export type PartitionStyle = 'cut' | 'blackhole'

/**
 * The faults of a chaos run. Every action is recorded in the timeline; {@link Nemesis.healAll}
 * undoes everything still in force (restarts what is down, resumes what is paused, heals links).
 */
export class Nemesis {
  readonly #flappers = new Set<{ stop: boolean; done: Promise<void> }>()

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Prng,
  ) {}

  get #history() {
    return this.cluster.history
  }

  // --- processes -------------------------------------------------------------------------

  async killRelay(relay: ChaosRelay): Promise<void> {
    this.#history.fault(`kill -9 relay ${relay.name}`)
    await relay.kill9()
  }

  async startRelay(relay: ChaosRelay): Promise<void> {
    await relay.start()
    this.#history.log('heal', `relay ${relay.name} started`)
  }

  /** kill -9, remove the data directory; the relay stays down until started. */
  async wipeRelay(relay: ChaosRelay): Promise<void> {
    await relay.kill9()
    await relay.wipe()
    this.#history.wiped(relay.name)
    this.#history.fault(`kill -9 and wipe relay ${relay.name}`)
  }

  pauseRelay(relay: ChaosRelay): void {
    relay.proc.pause()
    this.#history.fault(`SIGSTOP relay ${relay.name}`)
  }

  resumeRelay(relay: ChaosRelay): void {
    relay.proc.resume()
    this.#history.log('heal', `SIGCONT relay ${relay.name}`)
  }

  async killDevice(device: ChaosDevice): Promise<void> {
    this.#history.fault(`kill -9 device ${device.name}`)
    await device.kill9()
  }

  async startDevice(device: ChaosDevice): Promise<void> {
    await device.start()
    this.#history.log('heal', `device ${device.name} started`)
  }

  /** kill -9, remove the local store; the device stays down until started. */
  async wipeDevice(device: ChaosDevice): Promise<void> {
    await device.kill9()
    await device.wipe()
    this.#history.wiped(device.name)
    this.#history.fault(`kill -9 and wipe device ${device.name}`)
  }

  pauseDevice(device: ChaosDevice): void {
    device.proc.pause()
    this.#history.fault(`SIGSTOP device ${device.name}`)
  }

  /**
   * Corrupts a relay's disk while it is down: flips a byte in `records` stored values through the
   * raw database and, when `truncateLog` / `truncateTable`, cuts the newest LevelDB log / table
   * file in half. The relay is
   * killed first and left stopped.
   */
  async corruptRelay(
    relay: ChaosRelay,
    records: number,
    truncateLog: boolean,
    truncateTable = false,
  ): Promise<string[]> {
    await relay.kill9()
    const docs = await relay.flipStoredBytes(this.rng, records)
    this.#history.fault(`flip a byte in ${records} stored records of ${relay.name} (docs ${docs.join(' ')})`)
    if (truncateLog) {
      const t = await relay.truncateNewestLog()
      if (t) this.#history.fault(`truncate ${relay.name}/${t.file} from ${t.from} to ${t.to} bytes`)
    }
    if (truncateTable) {
      const t = await relay.truncateNewestTable()
      if (t) this.#history.fault(`truncate ${relay.name}/${t.file} from ${t.from} to ${t.to} bytes`)
    }
    return docs
  }

  // --- links -----------------------------------------------------------------------------

  #apply(proxies: FaultProxy[], style: PartitionStyle): void {
    for (const p of proxies) {
      if (style === 'cut') p.cut()
      else p.blackhole()
    }
  }

  /**
   * Splits the relays into groups that cannot reach each other. Each device stays with one
   * group (chosen at random among those given) and loses its links to every other group.
   */
  partition(groups: string[][], style: PartitionStyle = 'cut'): void {
    const groupOf = new Map<string, number>()
    groups.forEach((g, i) => {
      for (const r of g) groupOf.set(r, i)
    })
    const cut: FaultProxy[] = []
    for (const [name, proxy] of this.cluster.links) {
      const [from, to] = name.split('->') as [string, string]
      if (from.startsWith('r') && groupOf.get(from) !== groupOf.get(to)) cut.push(proxy)
    }
    const sides: string[] = []
    for (const device of this.cluster.devices) {
      const side = this.rng.int(0, groups.length - 1)
      sides.push(`${device.name}:${side}`)
      for (const relay of this.cluster.relays) {
        if (groupOf.get(relay.name) !== side)
          cut.push(this.cluster.links.get(`${device.name}->${relay.name}`)!)
      }
    }
    this.#apply(cut, style)
    this.#history.fault(
      `partition (${style}) ${groups.map((g) => `[${g.join(' ')}]`).join(' | ')}; devices ${sides.join(' ')}`,
    )
  }

  /**
   * A ring of overlapping majorities (Jepsen's "majorities ring"): each relay keeps links only to
   * its ring neighbours, so every relay sees a majority but no two see the same one.
   */
  majoritiesRing(style: PartitionStyle = 'cut'): void {
    const relays = this.cluster.relays.map((r) => r.name)
    const n = relays.length
    const cut: FaultProxy[] = []
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const distance = Math.min((i - j + n) % n, (j - i + n) % n)
        if (i !== j && distance > 1) cut.push(...this.cluster.meshLinks(relays[i]!, relays[j]!))
      }
    }
    this.#apply([...new Set(cut)], style)
    this.#history.fault(`majorities ring (${style}) over ${relays.join(' ')}`)
  }

  /** Cuts (or blackholes) the given links. */
  cut(proxies: FaultProxy[], style: PartitionStyle = 'cut'): void {
    this.#apply(proxies, style)
    this.#history.fault(`${style} ${proxies.map((p) => p.name).join(' ')}`)
  }

  /** Cuts every link of one node. */
  isolate(node: string, style: PartitionStyle = 'cut'): void {
    this.#apply(this.cluster.linksOf(node), style)
    this.#history.fault(`isolate ${node} (${style})`)
  }

  /** A slow link: latency and a bandwidth cap. */
  slow(proxy: FaultProxy, delayMs: number, bytesPerSecond: number): void {
    proxy.delay(delayMs)
    proxy.throttle(bytesPerSecond)
    this.#history.fault(`slow ${proxy.name}: +${delayMs} ms, ${bytesPerSecond} B/s`)
  }

  /** Tears every connection of a link in the middle of a frame. */
  tear(proxy: FaultProxy): void {
    proxy.resetMidFrame()
    this.#history.fault(`reset ${proxy.name} mid-frame`)
  }

  /**
   * Flaps each link: down (cut or blackhole) and up again at random intervals between
   * `minMs` and `maxMs`, until {@link Nemesis.stopFlapping} or healAll.
   */
  flap(proxies: FaultProxy[], minMs: number, maxMs: number): void {
    for (const proxy of proxies) {
      const flapper = { stop: false, done: Promise.resolve() }
      const rng = this.rng.fork()
      flapper.done = (async () => {
        while (!flapper.stop) {
          await new Promise((r) => setTimeout(r, rng.int(minMs, maxMs)))
          if (flapper.stop) break
          const r = rng.float()
          if (r < 0.4) proxy.cut()
          else if (r < 0.7) proxy.blackhole()
          else proxy.resetMidFrame()
          this.#history.fault(
            `flap ${proxy.name} ${r < 0.4 ? 'cut' : r < 0.7 ? 'blackhole' : 'reset mid-frame'}`,
          )
          await new Promise((res) => setTimeout(res, rng.int(minMs, maxMs)))
          proxy.heal()
        }
      })()
      this.#flappers.add(flapper)
    }
  }

  async stopFlapping(): Promise<void> {
    for (const f of this.#flappers) f.stop = true
    await Promise.all([...this.#flappers].map((f) => f.done))
    this.#flappers.clear()
  }

  /** Heals every link. */
  healLinks(): void {
    for (const proxy of this.cluster.links.values()) proxy.heal()
    this.#history.log('heal', 'all links healed')
  }

  /** Undoes every fault: links healed, paused processes resumed, stopped ones started. */
  async healAll(): Promise<void> {
    await this.stopFlapping()
    this.healLinks()
    for (const r of this.cluster.relays) if (r.proc.paused) this.resumeRelay(r)
    for (const d of this.cluster.devices) {
      if (d.proc.paused) {
        d.proc.resume()
        this.#history.log('heal', `SIGCONT device ${d.name}`)
      }
    }
    await Promise.all(this.cluster.relays.filter((r) => !r.running).map((r) => this.startRelay(r)))
    await Promise.all(this.cluster.devices.filter((d) => !d.running).map((d) => this.startDevice(d)))
  }
}
