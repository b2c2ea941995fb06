import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'
import { NestingLimit } from './NestingLimit.js'

/** What an update left waiting in Yjs' pending stores: parts (v2 updates) and what they wait for. */
export interface PendingParts {
  /** Yjs v2 updates: the structs and deletions that could not integrate yet. */
  parts: Uint8Array[]
  /** Per client, a clock the parts wait for: they may integrate once the client's state exceeds it. */
  waitsFor: Map<number, number>
  /** Sum of the parts' lengths. */
  bytes: number
}

/** Result of {@link UpdateGate.apply}. */
export interface GateResult {
  /** The document changed (an update was released). */
  changed: boolean
  /** What could not integrate yet (taken out of Yjs' pending stores), or null. */
  pending: PendingParts | null
  /** Clients whose state grew: pending parts waiting for them may integrate now. */
  advanced: Map<number, number>
}

/**
 * Applies updates to a live Y.Doc so that what the document emits is released (stored, broadcast,
 * forwarded) only when Yjs applied the update whole: the `update` events of the apply are buffered
 * and handed to `release` after `applyUpdate` returned normally. Yjs can throw halfway (a malformed
 * struct after valid ones) or in the transaction cleanup (a stack overflow garbage-collecting deep
 * types); then the buffer is discarded and the gate is broken: the Y.Doc may hold part of the update
 * or be unable to emit again, so its owner must drop it and reload the document from the store.
 *
 * Pending structs and deletions (dependencies this replica lacks) are taken out of the Y.Doc after
 * each apply and returned: left in Yjs, every later update would merge into them (quadratic) and
 * they would be invisible to ACK accounting.
 */
export class UpdateGate {
  #buffer: { update: Uint8Array; origin: unknown }[] | null = null
  #broken = false
  readonly #nesting = new NestingLimit()

  constructor(
    readonly ydoc: Y.Doc,
    private readonly release: (update: Uint8Array, origin: unknown) => void,
  ) {
    ydoc.on('update', this.#docOnUpdate)
  }

  /** True once an apply threw: the Y.Doc must not be used any more. */
  get broken(): boolean {
    return this.#broken
  }

  #docOnUpdate = (update: Uint8Array, origin: unknown): void => {
    if (this.#buffer) this.#buffer.push({ update, origin })
    // Not inside an apply (a load, or a transaction of the relay itself): release at once.
    else if (!this.#broken) this.release(update, origin)
  }

  /**
   * Applies `update` (Yjs v1, or v2 for pending parts handed back) with `origin`.
   * @throws RhizomeError PROTOCOL_MALFORMED when it does not decode (nothing applied, gate intact).
   * @throws RhizomeError PROTOCOL_MALFORMED when Yjs throws or the update nests types too deeply;
   *   nothing is released and the gate is broken from then on.
   * @throws RhizomeError RELAY_UNAVAILABLE when the gate is already broken.
   */
  apply(update: Uint8Array, origin: unknown, v2 = false): GateResult {
    if (this.#broken) throw new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, 'document is being reloaded')
    // Decoding first refuses most malformed updates before they touch the document, and names the
    // clients whose structs it can add: checks after the apply look at those only, not every client.
    const clients = new Set<number>()
    try {
      for (const struct of (v2 ? Y.decodeUpdateV2(update) : Y.decodeUpdate(update)).structs) {
        clients.add(struct.id.client)
      }
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be decoded', { cause })
    }
    const doc = this.ydoc
    const buffer: { update: Uint8Array; origin: unknown }[] = []
    this.#buffer = buffer
    let tr: Y.Transaction | null = null
    try {
      Y.transact(
        doc,
        (t) => {
          tr = t
          if (v2) Y.applyUpdateV2(doc, update)
          else Y.applyUpdate(doc, update)
          try {
            this.#nesting.check(doc, t, clients)
          } catch (err) {
            // The cleanup that follows would garbage-collect the refused types recursively (the
            // overflow this check exists for); the document is dropped anyway.
            doc.gc = false
            throw err
          }
        },
        origin,
      )
    } catch (cause) {
      this.#broken = true
      if (cause instanceof RhizomeError) throw cause
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'update cannot be applied', { cause })
    } finally {
      this.#buffer = null
    }
    const pending = takePending(doc)
    for (const b of buffer) this.release(b.update, b.origin)
    return { changed: buffer.length > 0, pending, advanced: advancedClients(tr, clients) }
  }
}

/** Which of `clients` a finished transaction advanced, with their new state. */
function advancedClients(tr: Y.Transaction | null, clients: Set<number>): Map<number, number> {
  const out = new Map<number, number>()
  if (tr === null) return out
  const t: Y.Transaction = tr
  for (const client of clients) {
    const clock = t.afterState.get(client) ?? 0
    if (clock > (t.beforeState.get(client) ?? 0)) out.set(client, clock)
  }
  return out
}

/** Takes Yjs' pending structs and deletions out of `doc`, with the clocks they wait for. */
function takePending(doc: Y.Doc): PendingParts | null {
  const store = doc.store
  const structs = store.pendingStructs
  const ds = store.pendingDs
  if (structs === null && ds === null) return null
  store.pendingStructs = null
  store.pendingDs = null
  const parts: Uint8Array[] = []
  const waitsFor = new Map<number, number>()
  const wait = (client: number, clock: number) => {
    const known = waitsFor.get(client)
    if (known === undefined || clock < known) waitsFor.set(client, clock)
  }
  if (structs) {
    parts.push(structs.update)
    for (const [client, clock] of structs.missing) wait(client, clock)
  }
  if (ds) {
    parts.push(ds)
    // Unapplied deletions start at or past the client's state: they wait for its next struct.
    for (const [client, ranges] of Y.decodeUpdateV2(ds).ds.clients) {
      for (const r of ranges) wait(client, r.clock)
    }
  }
  return { parts, waitsFor, bytes: parts.reduce((n, p) => n + p.length, 0) }
}

/** Several sets of pending parts (what one entry left after a retry) as one. */
export function joinPendingParts(list: PendingParts[]): PendingParts {
  if (list.length === 1) return list[0]!
  const waitsFor = new Map<number, number>()
  for (const p of list) {
    for (const [client, clock] of p.waitsFor) {
      const known = waitsFor.get(client)
      if (known === undefined || clock < known) waitsFor.set(client, clock)
    }
  }
  return { parts: list.flatMap((p) => p.parts), waitsFor, bytes: list.reduce((n, p) => n + p.bytes, 0) }
}
