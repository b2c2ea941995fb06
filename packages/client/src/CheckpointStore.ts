import type { SessionCheckpoint } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'

/**
 * Where a device left off with one relay store (docs/PROTOCOL.md section 7.2, spec step 9):
 * - `seq`: the relay's change sequence up to which every change matching `patterns` is in the
 *   local store (`null` until a round completed), sent back in `hello` so the relay lists only
 *   what changed since;
 * - `localSeq`: the local store's change sequence up to which every local change was pushed to
 *   that relay store and acknowledged; a resumed round re-offers only local documents changed since.
 * Both belong to the relay store `storeId`: a relay wiped and restarted gets a new store id, and
 * then neither is resumed.
 */
export interface RelayCheckpoint {
  storeId: string
  seq: number | null
  patterns: string[]
  localSeq: number
}

const KEY_PREFIX = 'session-checkpoint:'
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

function parse(raw: Uint8Array | null): RelayCheckpoint | null {
  if (raw === null) return null
  try {
    const v = JSON.parse(fromUtf8.decode(raw)) as Partial<RelayCheckpoint>
    if (typeof v.storeId !== 'string' || v.storeId === '') return null
    const seq = Number.isSafeInteger(v.seq) && (v.seq as number) >= 0 ? (v.seq as number) : null
    const localSeq =
      Number.isSafeInteger(v.localSeq) && (v.localSeq as number) >= 0 ? (v.localSeq as number) : 0
    const patterns = Array.isArray(v.patterns) ? v.patterns.filter((p) => typeof p === 'string') : []
    return { storeId: v.storeId, seq, patterns, localSeq }
  } catch {
    return null // an unreadable checkpoint costs one full listing, never wrong data
  }
}

/**
 * The checkpoints of one relay connection (keyed by its URL: the relay store behind a URL is known
 * only after `welcome`, and the record names it), persisted with `store.putLocal`, which commits
 * after every append issued before it: a checkpoint is never durable before the data it vouches for.
 */
export class CheckpointStore {
  readonly #store: DocStore
  readonly #key: string
  #current: RelayCheckpoint | null = null
  #loaded = false
  #writing: Promise<void> = Promise.resolve()

  constructor(store: DocStore, url: string) {
    this.#store = store
    this.#key = KEY_PREFIX + url
  }

  /** The saved checkpoint (read once, then kept in memory), or `null`. A corrupt record reads as `null`. */
  async load(): Promise<RelayCheckpoint | null> {
    if (!this.#loaded) {
      this.#current = parse(await this.#store.getLocal(this.#key).catch(() => null))
      this.#loaded = true
    }
    return this.#current
  }

  /**
   * What `hello` should carry for a device that replicates `patterns`: the checkpoint, and the
   * patterns it covers (each of them is also in `patterns`). Patterns it does not cover must be
   * added with `replicate` (their own, full round). No checkpoint: `null` and no patterns covered.
   */
  async hello(
    patterns: readonly string[],
  ): Promise<{ checkpoint: SessionCheckpoint | null; covered: string[] }> {
    const cp = await this.load()
    const covered = cp?.seq == null ? [] : patterns.filter((p) => cp.patterns.includes(p))
    if (cp === null || cp.seq === null || covered.length === 0) return { checkpoint: null, covered: [] }
    return { checkpoint: { storeId: cp.storeId, seq: cp.seq }, covered }
  }

  /** The local sequence to resume from with relay store `storeId` (0: offer every local document). */
  localSeqFor(storeId: string): number {
    return this.#current?.storeId === storeId ? this.#current.localSeq : 0
  }

  /** Saves the relay checkpoint `seq` (covering `patterns`) of store `storeId`. */
  saveRelay(storeId: string, seq: number, patterns: readonly string[]): Promise<void> {
    const base = this.#for(storeId)
    return this.#write({ ...base, seq, patterns: [...patterns] })
  }

  /** Saves the local checkpoint `localSeq` with store `storeId` (it never moves back). */
  saveLocal(storeId: string, localSeq: number): Promise<void> {
    const base = this.#for(storeId)
    if (localSeq <= base.localSeq && this.#current?.storeId === storeId) return this.#writing
    return this.#write({ ...base, localSeq })
  }

  #for(storeId: string): RelayCheckpoint {
    if (this.#current?.storeId === storeId) return this.#current
    // Another relay store: nothing of the old record applies to it.
    return { storeId, seq: null, patterns: [], localSeq: 0 }
  }

  #write(next: RelayCheckpoint): Promise<void> {
    this.#current = next
    this.#loaded = true
    const bytes = utf8.encode(JSON.stringify(next))
    this.#writing = this.#store.putLocal(this.#key, bytes)
    return this.#writing
  }
}
