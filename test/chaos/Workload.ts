import type { Prng } from '../support/seed.mjs'
import type { ChaosDevice } from './ChaosDevice.js'
import type { History } from './History.js'

export type OpKind = 'text-insert' | 'text-delete' | 'map-set' | 'array-push' | 'array-delete'

/**
 * One edit as the device applies it. Positions are fractions of the current length, so the same
 * seeded op makes sense whatever the replica holds when it arrives.
 */
export type Op =
  | { kind: 'text-insert'; at: number; text: string }
  | { kind: 'text-delete'; at: number; len: number }
  | { kind: 'map-set'; key: string; value: string }
  | { kind: 'array-push'; value: string }
  | { kind: 'array-delete'; at: number }

/** Text inserts are `‹token›`; the checker finds complete ones in the final text. */
export const TOKEN_OPEN = '‹'
export const TOKEN_CLOSE = '›'

/** Document names of a run: `chaos/d00` ... */
export function docNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `chaos/d${String(i).padStart(2, '0')}`)
}

/** Map keys the workload writes (few, so sets overwrite each other). */
export const MAP_KEYS = ['k0', 'k1', 'k2', 'k3', 'k4']

/**
 * Seeded random edits by several devices over many documents. Every edit carries a unique token
 * (`<device>.<n>`), recorded in the {@link History} before it is sent, so the checker knows every
 * piece of content anyone could have written.
 */
export class Workload {
  #counter = 0
  #timer: ReturnType<typeof setTimeout> | null = null
  #running = false

  constructor(
    private readonly rng: Prng,
    private readonly devices: () => ChaosDevice[],
    private readonly docs: string[],
    private readonly history: History,
    /** Mean pause between edits. */
    private readonly intervalMs = 40,
  ) {}

  /** Issues one edit to a random writable device; returns its token, or null when none is writable. */
  step(): string | null {
    const writable = this.devices().filter((d) => d.writable)
    if (writable.length === 0) return null
    return this.stepOn(this.rng.pick(writable))
  }

  /** Issues one random edit on `device` (to a random document it has open, or `doc`). */
  stepOn(device: ChaosDevice, doc = this.rng.pick(this.#editable(device))): string {
    const token = `${device.name}.${++this.#counter}`
    return this.#issue(device, doc, token, this.#op(token))
  }

  /**
   * Issues one large text insert (about `bytes` long) on `device`: a commit that takes a while,
   * so that edits right behind it wait for it in the relays' group commit.
   */
  ballast(device: ChaosDevice, bytes: number, doc = this.rng.pick(this.#editable(device))): string {
    const token = `${device.name}.${++this.#counter}`
    const piece = `${TOKEN_OPEN}${token}${TOKEN_CLOSE}`
    const text = piece.repeat(Math.max(1, Math.floor(bytes / piece.length)))
    return this.#issue(device, doc, token, { kind: 'text-insert', at: this.rng.float(), text })
  }

  /** The documents of the run `device` has open (a device edits only what it opened). */
  #editable(device: ChaosDevice): string[] {
    const open = new Set(device.openDocs)
    return this.docs.filter((d) => open.has(d))
  }

  #issue(device: ChaosDevice, doc: string, token: string, op: Op): string {
    this.history.issued({
      token,
      device: device.name,
      doc,
      kind: op.kind,
      op,
      issuedAt: this.history.now(),
      copies: 0,
    })
    device.edit(doc, token, op)
    return token
  }

  #op(token: string): Op {
    const r = this.rng.float()
    if (r < 0.35)
      return { kind: 'text-insert', at: this.rng.float(), text: `${TOKEN_OPEN}${token}${TOKEN_CLOSE}` }
    if (r < 0.5) return { kind: 'text-delete', at: this.rng.float(), len: this.rng.int(1, 12) }
    if (r < 0.7) return { kind: 'map-set', key: this.rng.pick(MAP_KEYS), value: token }
    if (r < 0.9) return { kind: 'array-push', value: token }
    return { kind: 'array-delete', at: this.rng.float() }
  }

  /** Runs `step()` at random intervals until {@link Workload.stop}. */
  start(): void {
    if (this.#running) return
    this.#running = true
    const tick = () => {
      if (!this.#running) return
      this.step()
      this.#timer = setTimeout(tick, this.rng.int(this.intervalMs / 2, (this.intervalMs * 3) / 2))
    }
    tick()
  }

  stop(): void {
    this.#running = false
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  /** Issues `n` edits, one every `intervalMs` on average (awaitable, for scripted phases). */
  async burst(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.step()
      await new Promise((r) => setTimeout(r, this.rng.int(this.intervalMs / 2, (this.intervalMs * 3) / 2)))
    }
  }
}
