import { createConnection, createServer, type Server, type Socket } from 'node:net'

/** What a link does with traffic right now. */
export type LinkState = 'up' | 'cut' | 'blackhole'

/** Bytes queued in one direction before the sending side is paused (TCP backpressure). */
const HIGH_WATER = 1024 * 1024
/** A reset armed with no traffic to split still happens after this long. */
const RESET_FALLBACK_MS = 1500

/** One accepted connection and its upstream, with a pump per direction. */
interface Pair {
  client: Socket
  upstream: Socket | null
  closed: boolean
}

/**
 * A fault-injecting TCP proxy for one link (device->relay or relay->relay). Every byte of the link
 * passes through it, so the nemesis can:
 * - `cut()`: reset every connection and refuse new ones (a crashed switch; both ends see an error);
 * - `blackhole()`: keep connections open but move no byte, and leave new ones hanging (a silent
 *   partition; TCP delivers the held bytes after `heal()`, as a real network would);
 * - `delay(ms)` and `throttle(bytesPerSecond)`: slow links;
 * - `resetMidFrame()`: forward only part of the next chunk on each connection, then reset it, so a
 *   WebSocket frame is torn in the middle;
 * - `heal()`: back to a clean link.
 * The upstream port can be set after the proxy listens, so relays can be given proxy URLs as
 * `--peers` before any relay has started.
 */
export class FaultProxy {
  port = 0
  state: LinkState = 'up'
  delayMs = 0
  bytesPerSecond = 0
  /** Connections accepted, and reset by a fault, over the proxy's life. */
  readonly counts = { accepted: 0, reset: 0 }
  readonly #pairs = new Set<Pair>()
  readonly #server: Server
  #healed: Promise<void> = Promise.resolve()
  #heal: (() => void) | null = null
  #resetArmed = false
  #closed = false

  constructor(
    /** For the timeline, e.g. `d1->r2`. */
    readonly name: string,
    /** Upstream port; `null` until known (connections are refused meanwhile). */
    public target: number | null = null,
  ) {
    this.#server = createServer((socket) => this.#accept(socket))
  }

  /** Listens on a free loopback port (kept for the proxy's life). */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy has no port')
    this.port = address.port
  }

  /** `ws://127.0.0.1:PORT` of the proxy. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  /** Open connections through the proxy. */
  get connections(): number {
    return this.#pairs.size
  }

  cut(): void {
    this.#setState('cut')
    for (const pair of [...this.#pairs]) this.#reset(pair)
  }

  blackhole(): void {
    this.#setState('blackhole')
  }

  delay(ms: number): void {
    this.delayMs = ms
  }

  throttle(bytesPerSecond: number): void {
    this.bytesPerSecond = bytesPerSecond
  }

  /** Tears every open connection in the middle of its next chunk (or after a short while without traffic). */
  resetMidFrame(): void {
    if (this.#pairs.size === 0) return
    this.#resetArmed = true
    const pairs = [...this.#pairs]
    setTimeout(() => {
      for (const pair of pairs) this.#reset(pair)
    }, RESET_FALLBACK_MS).unref()
  }

  heal(): void {
    this.delayMs = 0
    this.bytesPerSecond = 0
    this.#resetArmed = false
    this.#setState('up')
  }

  /** Resets every connection and stops listening. */
  async close(): Promise<void> {
    this.#closed = true
    for (const pair of [...this.#pairs]) this.#reset(pair)
    this.#heal?.()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #setState(state: LinkState): void {
    if (state === 'blackhole' && this.state !== 'blackhole') {
      this.#healed = new Promise((resolve) => {
        this.#heal = resolve
      })
    }
    if (state !== 'blackhole' && this.#heal) {
      const heal = this.#heal
      this.#heal = null
      this.state = state
      heal()
      return
    }
    this.state = state
  }

  #accept(client: Socket): void {
    this.counts.accepted++
    if (this.state === 'cut' || this.target === null || this.#closed) {
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    client.setNoDelay(true)
    const pair: Pair = { client, upstream: null, closed: false }
    this.#pairs.add(pair)
    client.on('error', () => this.#close(pair))
    client.on('close', () => this.#close(pair))
    // Bytes from the client wait here until the upstream exists (and while blackholed).
    const early = new Pump(this, pair, client)
    const connect = async () => {
      await this.#passable()
      if (pair.closed) return
      const upstream = createConnection({ host: '127.0.0.1', port: this.target! })
      upstream.setNoDelay(true)
      pair.upstream = upstream
      upstream.on('error', () => this.#close(pair))
      upstream.on('close', () => this.#close(pair))
      upstream.on('connect', () => {
        early.attach(upstream)
        new Pump(this, pair, upstream).attach(client)
      })
    }
    void connect()
  }

  /** Resolves when traffic may pass (immediately unless blackholed). */
  #passable(): Promise<void> {
    return this.state === 'blackhole' ? this.#healed : Promise.resolve()
  }

  /** @internal Used by the pumps. */
  async gate(pair: Pair, chunk: Buffer, arrivedAt: number): Promise<Buffer | 'reset' | null> {
    while (this.state === 'blackhole') await this.#passable()
    if (pair.closed || this.state === 'cut') return null
    if (this.delayMs > 0) {
      const wait = arrivedAt + this.delayMs - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
    if (this.bytesPerSecond > 0) {
      await new Promise((r) => setTimeout(r, (chunk.length / this.bytesPerSecond) * 1000))
    }
    if (pair.closed) return null
    if (this.#resetArmed) return 'reset'
    return chunk
  }

  /** @internal Forwards part of `chunk` and resets the pair (a torn frame). */
  tear(pair: Pair, dst: Socket, chunk: Buffer): void {
    const part = chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2)))
    if (chunk.length > 1) dst.write(part, () => this.#reset(pair))
    else this.#reset(pair)
  }

  #reset(pair: Pair): void {
    if (pair.closed) return
    this.counts.reset++
    for (const s of [pair.client, pair.upstream]) {
      if (s && !s.destroyed) {
        s.on('error', () => {})
        s.resetAndDestroy()
      }
    }
    this.#close(pair)
    if (this.#resetArmed && ![...this.#pairs].some((p) => !p.closed)) this.#resetArmed = false
  }

  #close(pair: Pair): void {
    if (pair.closed) return
    pair.closed = true
    this.#pairs.delete(pair)
    pair.client.destroy()
    pair.upstream?.destroy()
  }
}

/** Moves the bytes of one direction, in order, through the proxy's current faults. */
class Pump {
  readonly #queue: { chunk: Buffer; at: number }[] = []
  #queued = 0
  #dst: Socket | null = null
  #running = false
  #ended = false

  constructor(
    private readonly proxy: FaultProxy,
    private readonly pair: Pair,
    private readonly src: Socket,
  ) {
    src.on('data', (chunk: Buffer) => {
      this.#queue.push({ chunk, at: Date.now() })
      this.#queued += chunk.length
      if (this.#queued > HIGH_WATER) src.pause()
      void this.#run()
    })
    src.on('end', () => {
      this.#ended = true
      void this.#run()
    })
  }

  attach(dst: Socket): void {
    this.#dst = dst
    void this.#run()
  }

  async #run(): Promise<void> {
    if (this.#running || this.#dst === null) return
    this.#running = true
    const dst = this.#dst
    try {
      while (this.#queue.length > 0 && !this.pair.closed) {
        const { chunk, at } = this.#queue[0]!
        const out = await this.proxy.gate(this.pair, chunk, at)
        if (out === null) return
        this.#queue.shift()
        this.#queued -= chunk.length
        if (out === 'reset') {
          this.proxy.tear(this.pair, dst, chunk)
          return
        }
        if (!dst.write(out)) {
          await new Promise<void>((r) => {
            dst.once('drain', () => r())
            dst.once('close', () => r())
          })
        }
        if (this.#queued < HIGH_WATER / 2 && this.src.isPaused()) this.src.resume()
      }
      if (this.#ended && this.#queue.length === 0 && !this.pair.closed) dst.end()
    } finally {
      this.#running = false
    }
  }
}
