import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { decodeChecked } from '../checksum.js'
import { type AnyLevel, RAW } from '../records.js'
import { decodeEffects } from './effectChunk.js'
import type { Effect } from './effects.js'
import { type ChunkKeyInfo, chunkRange, EXACT, HOURLY, parseChunkKey } from './historyKeys.js'

/** A chunk key with what it tells. */
export interface ChunkKey extends ChunkKeyInfo {
  key: string
}

/** Effects read from the index, with where they came from. */
export interface IndexRead {
  /** Effects of the chunks read, in key order (hourly chunks first). */
  effects: Effect[]
  /** The latest receive time the index covers (0 when it is empty). */
  lastTime: number
}

/**
 * Reads a document's history index (see `historyKeys.ts`). Every chunk read is verified; a damaged
 * one makes the read throw `STORE_CORRUPT`. History is local to a store (a peer cannot send it), so
 * a damaged chunk does not quarantine the document: its current state is unaffected.
 */
export class HistoryIndex {
  readonly #db: AnyLevel

  constructor(db: AnyLevel) {
    this.#db = db
  }

  /** Every chunk key of the document, hourly chunks first, each kind in key (time) order. */
  async keys(name: string): Promise<ChunkKey[]> {
    const out: ChunkKey[] = []
    for (const kind of [HOURLY, EXACT] as const) {
      const keys = await this.#db.keys<string>({ ...chunkRange(name, kind), keyEncoding: 'utf8' }).all()
      for (const key of keys) {
        const info = parseChunkKey(name, key)
        if (info !== null) out.push({ key, ...info })
      }
    }
    return out
  }

  /** The latest receive time the index covers (0 when it is empty), from its keys alone. */
  async lastTime(name: string): Promise<number> {
    let last = 0
    for (const k of await this.keys(name)) last = Math.max(last, k.last)
    return last
  }

  /**
   * Effects of the chunks that cover receive times after `after` (all chunks for `-Infinity`), and
   * the latest receive time of the whole index.
   * @throws RhizomeError STORE_CORRUPT when a chunk read fails its checksum or does not parse.
   */
  async read(name: string, after: number): Promise<IndexRead> {
    const keys = await this.keys(name)
    let lastTime = 0
    for (const k of keys) lastTime = Math.max(lastTime, k.last)
    const wanted = keys.filter((k) => k.last > after)
    const effects = await this.effectsOf(name, wanted)
    return { effects: effects.flat(), lastTime }
  }

  /**
   * The effects of each of `keys`, parallel to it.
   * @throws RhizomeError STORE_CORRUPT as {@link read}.
   */
  async effectsOf(name: string, keys: readonly ChunkKey[]): Promise<Effect[][]> {
    if (keys.length === 0) return []
    const values = await this.#db.getMany<string, Uint8Array>(
      keys.map((k) => k.key),
      RAW,
    )
    return keys.map((k, i) => {
      const raw = values[i]
      const payload = raw === undefined ? null : decodeChecked(k.key, raw)
      try {
        if (payload === null) throw new Error('checksum mismatch or missing value')
        return decodeEffects(payload)
      } catch (cause) {
        throw new RhizomeError(
          ErrorCode.STORE_CORRUPT,
          `history chunk ${JSON.stringify(k.key)} of ${JSON.stringify(name)} is damaged`,
          { cause, doc: name },
        )
      }
    })
  }
}
