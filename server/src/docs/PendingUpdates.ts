import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { joinPendingParts, type PendingParts, type UpdateGate } from './UpdateGate.js'

/**
 * Bytes each held entry is charged beyond its parts: bookkeeping that many tiny entries would
 * otherwise pin for free.
 */
const ENTRY_OVERHEAD_BYTES = 256

/**
 * Times one entry may be handed back for another try. A legitimate entry integrates once the update
 * it waits for arrives (one or two tries); an entry built so that each try integrates one struct
 * and waits for the next would otherwise be re-read whole for every tiny update (quadratic).
 */
export const MAX_PENDING_RETRIES = 32

/** Parts of one update that wait for structs this replica lacks. */
export interface PendingEntry {
  readonly origin: unknown
  parts: Uint8Array[]
  waitsFor: Map<number, number>
  bytes: number
  retries: number
  settle: { resolve: () => void; reject: (err: unknown) => void }
}

/**
 * What one document holds of updates that could not integrate yet, per origin (socket or peer
 * link), within a byte budget. An entry is handed back (`due`) only when a client it waits for
 * advanced past the clock it needs, so each apply costs O(advanced clients + entries due), never a
 * merge of everything held. Each entry has a promise that resolves once it integrated whole and
 * rejects when it is dropped (its origin closed, the budget was exceeded, the document was dropped):
 * what waits on it must not be acknowledged before that (PROTOCOL.md section 3).
 */
export class PendingUpdates {
  readonly #entries = new Set<PendingEntry>()
  /** Per client, the entries waiting for it, sorted by the clock they need. */
  readonly #waiting = new Map<number, { clock: number; entry: PendingEntry }[]>()
  #bytes = 0

  /** @param maxBytes budget of held bytes for the document (parts plus a per-entry overhead). */
  constructor(readonly maxBytes: number) {}

  /** Bytes held now, overhead included. */
  get bytes(): number {
    return this.#bytes
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size
  }

  /**
   * Holds `pending` for `origin`. Pass `entry` to put back an entry that was handed back by
   * {@link due} and integrated only partly (its promise carries over).
   * @returns the promise of the entry: resolves once it integrated, rejects when it is dropped.
   * @throws RhizomeError PROTOCOL_TOO_LARGE when the budget would be exceeded: then every entry of
   *   `origin` is dropped (rejected with that error) and nothing is held.
   * @throws RhizomeError PROTOCOL_TOO_LARGE when a put-back entry was retried too often (dropped).
   */
  hold(origin: unknown, pending: PendingParts, entry?: PendingEntry): Promise<void> | null {
    const bytes = pending.bytes + ENTRY_OVERHEAD_BYTES
    if (entry && entry.retries >= MAX_PENDING_RETRIES) {
      const err = new RhizomeError(ErrorCode.PROTOCOL_TOO_LARGE, 'pending update retried too often')
      entry.settle.reject(err)
      throw err
    }
    if (this.#bytes + bytes > this.maxBytes) {
      const err = new RhizomeError(
        ErrorCode.PROTOCOL_TOO_LARGE,
        `updates waiting for missing structs exceed ${this.maxBytes} bytes`,
      )
      entry?.settle.reject(err)
      this.dropFrom(origin, err)
      throw err
    }
    let promise: Promise<void> | null = null
    if (entry) {
      entry.parts = pending.parts
      entry.waitsFor = pending.waitsFor
      entry.bytes = bytes
    } else {
      let settle!: PendingEntry['settle']
      promise = new Promise<void>((resolve, reject) => {
        settle = { resolve, reject }
      })
      // A dropped entry's socket or link is closed by whoever dropped it; never unhandled.
      promise.catch(() => {})
      entry = { origin, parts: pending.parts, waitsFor: pending.waitsFor, bytes, retries: 0, settle }
    }
    this.#entries.add(entry)
    this.#bytes += bytes
    for (const [client, clock] of entry.waitsFor) {
      let list = this.#waiting.get(client)
      if (!list) {
        list = []
        this.#waiting.set(client, list)
      }
      list.splice(upperBound(list, clock), 0, { clock, entry })
    }
    return promise
  }

  /**
   * Removes and returns the entries that may integrate now that `advanced` clients reached the
   * given states, in the order they were held. Apply each, then {@link hold} what is still pending
   * (with the entry) or {@link integrated} it.
   */
  due(advanced: Map<number, number>): PendingEntry[] {
    if (this.#entries.size === 0) return []
    const due = new Set<PendingEntry>()
    for (const [client, state] of advanced) {
      const list = this.#waiting.get(client)
      if (!list) continue
      let n = 0
      while (n < list.length && list[n]!.clock < state) due.add(list[n++]!.entry)
    }
    for (const entry of due) this.#remove(entry)
    for (const entry of due) entry.retries++
    return [...due]
  }

  /**
   * Hands held parts back to Yjs through `gate` once the clients they wait for advanced (to the
   * states in `advanced`), and again for what that integrated, until nothing is due. An entry that
   * integrated resolves; one still waiting is held again (or rejected when retried too often).
   * @returns the entry's origin and error when Yjs threw on a held part: the gate is broken, that
   *   entry was rejected with the error, and the caller must drop the document.
   */
  retry(gate: UpdateGate, advanced: Map<number, number>): { origin: unknown; err: unknown } | null {
    let due = this.due(advanced)
    while (due.length > 0) {
      const next: PendingEntry[] = []
      for (const [i, entry] of due.entries()) {
        const left: PendingParts[] = []
        const moved = new Map<number, number>()
        try {
          for (const part of entry.parts) {
            const r = gate.apply(part, entry.origin, true)
            if (r.pending) left.push(r.pending)
            for (const [client, clock] of r.advanced) moved.set(client, clock)
          }
        } catch (err) {
          entry.settle.reject(err)
          // A part that does not even decode touched nothing: only that entry goes.
          if (!gate.broken) continue
          // Handed back but not tried: settle them too, or what waits on them would wait forever.
          const dropped = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'document is being reloaded')
          for (const other of [...due.slice(i + 1), ...next]) other.settle.reject(dropped)
          return { origin: entry.origin, err }
        }
        if (left.length === 0) this.integrated(entry)
        else {
          try {
            this.hold(entry.origin, joinPendingParts(left), entry)
          } catch {
            // Rejected (with its origin's other entries): the origin closes itself on the rejection.
          }
        }
        next.push(...this.due(moved))
      }
      due = next
    }
    return null
  }

  /** An entry handed back by {@link due} integrated whole. */
  integrated(entry: PendingEntry): void {
    entry.settle.resolve()
  }

  /** Drops every entry of `origin`, rejecting its promise with `err`. */
  dropFrom(origin: unknown, err: unknown): void {
    for (const entry of [...this.#entries]) {
      if (entry.origin !== origin) continue
      this.#remove(entry)
      entry.settle.reject(err)
    }
  }

  /** Drops everything, rejecting each promise with `err`. */
  dropAll(err: unknown): void {
    for (const entry of [...this.#entries]) {
      this.#remove(entry)
      entry.settle.reject(err)
    }
  }

  #remove(entry: PendingEntry): void {
    if (!this.#entries.delete(entry)) return
    this.#bytes -= entry.bytes
    for (const [client, clock] of entry.waitsFor) {
      const list = this.#waiting.get(client)
      if (!list) continue
      // Entries of equal clock sit together; find this one among them.
      for (let i = lowerBound(list, clock); i < list.length && list[i]!.clock === clock; i++) {
        if (list[i]!.entry === entry) {
          list.splice(i, 1)
          break
        }
      }
      if (list.length === 0) this.#waiting.delete(client)
    }
  }
}

/** First index whose clock is >= `clock`. */
function lowerBound(list: { clock: number }[], clock: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.clock < clock) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** First index whose clock is > `clock` (keeps insertion order among equal clocks). */
function upperBound(list: { clock: number }[], clock: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.clock <= clock) lo = mid + 1
    else hi = mid
  }
  return lo
}
