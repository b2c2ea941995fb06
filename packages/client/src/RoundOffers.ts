import type { DocLocks } from './DocLocks.js'
import type { LocalDocs } from './LocalDocs.js'
import { absentStates, localChanges } from './localScans.js'
import type { Round, SessionRounds } from './SessionRounds.js'

/** Above this many buffered bytes a push waits for the socket to drain. */
const HIGH_WATER = 1 << 20

/** What {@link RoundOffers} needs of its session's sync. */
export interface OfferSync {
  readonly local: LocalDocs
  readonly locks: DocLocks
  /** The rounds of the current socket. */
  rounds(): SessionRounds
  /** The socket epoch: work that sees it change stops. */
  epoch(): number
  /** True when the relay refused `doc` on this socket. */
  refused(doc: string): boolean
  /** Sends a step1 of `doc`; resolves once answered (or refused, or the socket is gone). */
  exchange(doc: string, stateVector: Uint8Array): Promise<void>
  /** Sends the whole state of `doc` as a step2 (a push). */
  push(doc: string, state: Uint8Array): void
  /** The local store sequence the checkpoint of relay store `storeId` covers. */
  localSeqFor(storeId: string): number
  /** The session socket: welcomed (`ready`) and how much it holds unsent. */
  socket(): { readonly ready: boolean; readonly bufferedAmount: number }
}

/**
 * The local side of a session's rounds (docs/PROTOCOL.md section 7.2): offering documents of the
 * relay's listing (or changed locally since a resumed checkpoint) by digest and step1, and pushing
 * local documents a relay did not list. Documents open on the replica are left to their links.
 */
export class RoundOffers {
  readonly #sync: OfferSync

  /** Offers nothing until asked. */
  constructor(sync: OfferSync) {
    this.#sync = sync
  }

  /**
   * Round 1's local part: the local start sequence, and for a resumed round (`resumedFrom`, the
   * relay store id of the welcome) the local changes since. Marks the round's local part done
   * unless the socket changed meanwhile. Never rejects.
   */
  async startLocal(epoch: number, round: Round, resumedFrom: string | null): Promise<void> {
    const { local } = this.#sync
    try {
      // Everything issued before the welcome is committed before the start sequence is read; what
      // comes later is sent live on this socket (it is welcomed now).
      await local.whenIssued()
      await local.store.flush()
      if (epoch !== this.#sync.epoch()) return
      // Local changes after this one are sent live on this socket.
      const start = local.store.changeSeq
      if (resumedFrom !== null) {
        const since = this.#sync.localSeqFor(resumedFrom)
        for await (const doc of localChanges(local.store, since, start, round.patterns)) {
          if (epoch !== this.#sync.epoch()) return
          this.#sync.rounds().add(round, () => this.offer(doc))
        }
      }
    } catch {
      if (epoch !== this.#sync.epoch()) return
      // The store closed under us: the replica is closing.
    }
    if (epoch !== this.#sync.epoch()) return
    round.localDone = true
    this.#sync.rounds().check()
  }

  /**
   * One document of a round: unless the local digest equals the relay's, a step1 exchange (the
   * relay answers with what we lack and asks for what it lacks). Open documents are synced by
   * their link; each document once per round.
   */
  async offer(doc: string, digest?: string): Promise<void> {
    const { local } = this.#sync
    if (this.#sync.refused(doc) || local.isDeleted(doc) || local.openDoc(doc) !== undefined) return
    const epoch = this.#sync.epoch()
    const release = await this.#sync.locks.acquire(doc)
    try {
      if (epoch !== this.#sync.epoch()) return
      this.#sync.rounds().settle(doc)
      if (digest !== undefined && (await local.digest(doc)) === digest) return
      const sv = await local.stateVector(doc)
      if (epoch === this.#sync.epoch()) await this.#sync.exchange(doc, sv)
    } finally {
      release()
    }
  }

  /** A round that is not resumed: local documents of its patterns the relay did not list are pushed whole. */
  async pushAbsent(round: Round): Promise<void> {
    const epoch = this.#sync.epoch()
    const { local } = this.#sync
    // One scan of the store, not one read per document. A document that changes after the scan read
    // it reaches the relay anyway: as a live update, or offered again at the round's end (owed).
    for await (const { name: doc, update: state } of absentStates(
      local.store,
      round.patterns,
      round.listed,
    )) {
      if (epoch !== this.#sync.epoch()) return
      if (this.#sync.refused(doc) || local.isDeleted(doc) || local.openDoc(doc) !== undefined) continue
      this.#sync.rounds().settle(doc)
      this.#sync.push(doc, state)
      await this.#drained()
    }
  }

  async #drained(): Promise<void> {
    const ws = this.#sync.socket()
    while (ws.ready && ws.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 10))
  }
}
