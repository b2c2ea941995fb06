import { readdir, rm, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { TEST_MESH_SECRET } from '../support/meshSecret.js'
import { RELAY_CLI } from '../support/relays.js'
import type { Prng } from '../support/seed.mjs'
import { ManagedProcess } from './ManagedProcess.js'

/** Relay options that make a chaos run heal within seconds rather than minutes. */
export const CHAOS_RELAY_ARGS = ['--anti-entropy-ms', '1500', '--idle-ms', '2000', '--log-level', 'warn']

/**
 * A relay as a real `rhizome-relay` process on a fixed port with its own data directory; its
 * `--peers` point at the fault proxies in front of the other relays.
 */
export class ChaosRelay {
  readonly proc: ManagedProcess
  id = ''

  constructor(
    readonly name: string,
    readonly port: number,
    readonly dataDir: string,
    readonly peerUrls: string[],
    extraArgs: string[] = [],
  ) {
    this.proc = new ManagedProcess(name, () => ({
      args: [
        RELAY_CLI,
        '--port',
        String(port),
        '--data',
        dataDir,
        ...(peerUrls.length > 0 ? ['--peers', peerUrls.join(',')] : []),
        '--mesh-secret',
        TEST_MESH_SECRET,
        ...CHAOS_RELAY_ARGS,
        ...extraArgs,
      ],
      env: { RHIZOME_MESH_SECRET: TEST_MESH_SECRET },
    }))
  }

  /** Direct URL (bypassing every proxy), for the checker. */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get directUrl(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.proc.running
  }

  async start(): Promise<void> {
    const m = await this.proc.start(/rhizome-relay (\S+) listening on ws:\/\//)
    this.id = m[1]!
  }

  kill9(): Promise<void> {
    return this.proc.kill9()
  }

  /** Removes the data directory; the relay must be stopped. */
  async wipe(): Promise<void> {
    if (this.running) throw new Error(`${this.name}: wipe needs a stopped relay`)
    await rm(this.dataDir, { recursive: true, force: true })
  }

  /**
   * Flips one byte in each of up to `count` stored document records (snapshot or log values under
   * `d:`) through the raw database, as bit rot would. The relay must be stopped. Returns the
   * damaged keys' document names.
   */
  async flipStoredBytes(rng: Prng, count: number): Promise<string[]> {
    if (this.running) throw new Error(`${this.name}: corrupting needs a stopped relay`)
    const db = new ClassicLevel<string, Uint8Array>(this.dataDir, { valueEncoding: 'view' })
    await db.open()
    try {
      const keys: string[] = []
      for await (const key of db.keys({ gt: 'd:', lt: 'd;' })) keys.push(key)
      const victims = rng.sample(keys, count)
      for (const key of victims) {
        const value = await db.get(key)
        if (value === undefined || value.length === 0) continue
        const copy = new Uint8Array(value)
        const at = rng.int(0, copy.length - 1)
        copy[at] = copy[at]! ^ (1 << rng.int(0, 7))
        await db.put(key, copy, { sync: true })
      }
      return [...new Set(victims.map((k) => k.slice(2, k.indexOf('\u0000'))))]
    } finally {
      await db.close()
    }
  }

  /**
   * Truncates the newest LevelDB write-ahead log (`.log`) to half its length, as a torn write at
   * power loss leaves it. The relay must be stopped. Returns the file and its sizes, or null when
   * there is no non-empty log.
   */
  truncateNewestLog(): Promise<{ file: string; from: number; to: number } | null> {
    return this.#truncateNewest('.log')
  }

  /**
   * Truncates the newest LevelDB table file (`.ldb`) to half its length. The relay must be
   * stopped. Returns the file and its sizes, or null when there is no table yet.
   */
  truncateNewestTable(): Promise<{ file: string; from: number; to: number } | null> {
    return this.#truncateNewest('.ldb')
  }

  async #truncateNewest(ext: string): Promise<{ file: string; from: number; to: number } | null> {
    if (this.running) throw new Error(`${this.name}: truncating needs a stopped relay`)
    const files = (await readdir(this.dataDir)).filter((f) => f.endsWith(ext) && f !== 'LOG')
    files.sort()
    const file = files.at(-1)
    if (!file) return null
    const path = join(this.dataDir, file)
    const from = (await stat(path)).size
    if (from === 0) return null
    const to = Math.floor(from / 2)
    await truncate(path, to)
    return { file, from, to }
  }
}
