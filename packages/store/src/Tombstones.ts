import { decodeChecked, encodeChecked } from './checksum.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { changeKey, nameOfTombstoneKey, tombstoneKey, tombstoneRange } from './keys.js'
import { type AnyLevel, RAW } from './records.js'

/**
 * The deletion state of one document (docs/PROTOCOL.md section 9): `deleted` since `at`, or live
 * again since `at` (an undelete). Records replicate last-writer-wins by `at`; at equal times a
 * delete wins, so a delete wins over concurrent edits and concurrent undeletes alike.
 */
export interface TombstoneRecord {
  name: string
  deleted: boolean
  /** When the state began (ms since the epoch, the deciding relay's clock). */
  at: number
}

interface Stored {
  deleted: boolean
  at: number
  /** The record's own change sequence number; 0 when it has none (a live record). */
  seq: number
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** True when `incoming` replaces `current` under last-writer-wins (delete wins ties). */
export function tombstoneWins(
  incoming: { deleted: boolean; at: number },
  current: Stored | undefined,
): boolean {
  if (current === undefined) return incoming.deleted
  if (incoming.at !== current.at) return incoming.at > current.at
  return incoming.deleted && !current.deleted
}

function encodeRecord(key: string, r: Stored): Uint8Array {
  return encodeChecked(key, utf8.encode(JSON.stringify({ d: r.deleted ? 1 : 0, at: r.at, seq: r.seq })))
}

function decodeRecord(key: string, raw: Uint8Array): Stored | null {
  const payload = decodeChecked(key, raw)
  if (payload === null) return null
  try {
    const v = JSON.parse(fromUtf8.decode(payload)) as { d?: unknown; at?: unknown; seq?: unknown }
    if (!Number.isSafeInteger(v.at) || !Number.isSafeInteger(v.seq)) return null
    return { deleted: v.d === 1, at: v.at as number, seq: v.seq as number }
  } catch {
    return null
  }
}

/** The tombstone records of a store as read at open (opaque to callers). */
export interface LoadedTombstones {
  readonly map: Map<string, Stored>
  /** Keys of records that failed their checksum (skipped: a peer or an admin sends them again). */
  readonly damaged: string[]
}

/** Reads every tombstone record of `db` (a name and two numbers per deleted document). */
export async function loadTombstones(db: AnyLevel): Promise<LoadedTombstones> {
  const map = new Map<string, Stored>()
  const damaged: string[] = []
  for await (const [key, raw] of db.iterator<string, Uint8Array>({ ...tombstoneRange(), ...RAW })) {
    const r = decodeRecord(key, raw)
    if (r === null) damaged.push(key)
    else map.set(nameOfTombstoneKey(key), r)
  }
  return { map, damaged }
}

/**
 * The tombstone key space (`t:<doc>`) of a store: every record is held in memory too (a name and
 * two numbers per deleted document, kept forever so that a device back after a year still learns
 * of a deletion), loaded once at open. Writes go through the group commit; a record that turns a
 * document deleted gets a change sequence number of its own (and the document's content change
 * record is dropped, so the feed lists it once), so that a device's catch-up sees the deletion. An
 * undelete gives the document's content a new number instead, so that catch-up fetches it again.
 * Changes are serialized: each decision is made against the committed state.
 */
export class Tombstones {
  readonly #records: Map<string, Stored>
  readonly #commit: GroupCommit
  #chain: Promise<unknown> = Promise.resolve()

  /** @param records - what {@link loadTombstones} read at open. */
  constructor(records: LoadedTombstones, commit: GroupCommit) {
    this.#records = records.map
    this.#commit = commit
  }

  /** When the document was deleted, or `null` when it is not (never deleted, or undeleted). */
  deletedAt(name: string): number | null {
    const r = this.#records.get(name)
    return r?.deleted ? r.at : null
  }

  /** The document's record (deleted or live), or `null` when it never had one. */
  get(name: string): TombstoneRecord | null {
    const r = this.#records.get(name)
    return r ? { name, deleted: r.deleted, at: r.at } : null
  }

  /** Number of documents deleted now. */
  get deletedCount(): number {
    let n = 0
    for (const r of this.#records.values()) if (r.deleted) n++
    return n
  }

  /** Records in name order after `after`, at most `limit`; live (undeleted) ones only with `includeLive`. */
  list(options: { after?: string; limit?: number; includeLive?: boolean } = {}): TombstoneRecord[] {
    const names = [...this.#records.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const out: TombstoneRecord[] = []
    for (const name of names) {
      if (options.after !== undefined && name <= options.after) continue
      const r = this.#records.get(name)!
      if (!r.deleted && !options.includeLive) continue
      out.push({ name, deleted: r.deleted, at: r.at })
      if (options.limit !== undefined && out.length >= options.limit) break
    }
    return out
  }

  /**
   * Merges `record` last-writer-wins; resolves to true when it replaced the stored state (durably),
   * false when the stored state wins. A first record that is live changes nothing.
   */
  merge(record: TombstoneRecord): Promise<boolean> {
    const next = this.#chain.then(() => this.#merge(record))
    this.#chain = next.catch(() => {})
    return next
  }

  /** The time an undelete decided now should carry: later than the delete it undoes. */
  undeleteTime(name: string, now: number): number {
    return Math.max(now, (this.#records.get(name)?.at ?? 0) + 1)
  }

  async #merge(record: TombstoneRecord): Promise<boolean> {
    const { name } = record
    const current = this.#records.get(name)
    if (!tombstoneWins(record, current)) return false
    const key = tombstoneKey(name)
    const stored: Stored = { deleted: record.deleted, at: record.at, seq: 0 }
    await this.#commit.enqueue({
      name,
      run: async (batch) => {
        if (current !== undefined && current.seq > 0) batch.del(changeKey(current.seq))
        if (!record.deleted) {
          // Content comes back: its own change number makes catch-up fetch it again.
          if (await batch.meta(name)) batch.changedContent.add(name)
          batch.put(key, encodeRecord(key, stored))
          return
        }
        batch.changeClaims.set(name, async (seq) => {
          stored.seq = seq
          // The deletion is the document's one change record; its content number goes.
          const entry = await batch.meta(name)
          if (entry && entry.meta.seq > 0) {
            batch.del(changeKey(entry.meta.seq))
            entry.meta.seq = 0
            batch.touch(name)
          }
          batch.put(key, encodeRecord(key, stored))
        })
      },
    })
    this.#records.set(name, stored)
    return true
  }
}
