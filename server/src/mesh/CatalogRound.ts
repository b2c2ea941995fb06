import { EMPTY_STATE_VECTOR, type MeshMessage, type MeshTombstone } from '@rhizome/protocol'
import type { InboundAcks } from './InboundAcks.js'
import { tombstonePages } from './meshTombstones.js'

/** Catalog entries per page. */
const CATALOG_PAGE = 256
/** Pull requests (step1) in flight per link. */
const MAX_PULLS = 32

/** What an anti-entropy round needs from the relay's mesh. */
export interface CatalogRoundHost {
  /** This relay's catalog, in name order; a null digest marks a corrupt document. */
  catalog(): AsyncIterable<{ name: string; digest: string | null }>
  /** Every tombstone record (deleted and undeleted documents), sent before each catalog round. */
  tombstones(): MeshTombstone[]
  /** Resolves once everything applied so far to loaded documents is committed. */
  whenAllCommitted(): Promise<void>
  matchesDigest(name: string, digest: string): Promise<boolean>
  stateVectorOf(name: string): Promise<Uint8Array>
}

/** What an anti-entropy round does on its link. */
export interface CatalogRoundLink {
  isOpen(): boolean
  send(m: MeshMessage): void
  /** Resolves once the link's send buffer drained (or it closed). */
  whenDrained(): Promise<void>
  /** Durability of what the peer sent: the synced mark waits for it. */
  readonly acks: InboundAcks
  /** Everything the peer's catalog of `round` listed as different was pulled and is durable. */
  roundPulled(round: number): void
}

/**
 * The anti-entropy rounds of one link (mesh messages `catalog`, `step1`, `step2`, `synced`), both
 * halves: streaming our catalog to the peer in pages with backpressure, and pulling each
 * document whose digest differs in the peer's catalog, at most {@link MAX_PULLS} at a time. Once a
 * full catalog of the peer's was pulled and everything pulled is durable, the round is marked
 * pulled (the link then sends `synced`).
 */
export class CatalogRound {
  #round = 0
  // Pull side of the current round.
  #pullQueue: string[] = []
  #pullsInFlight = new Map<string, number>()
  #catalogDone = false
  #pullingRound = 0

  constructor(
    private readonly host: CatalogRoundHost,
    private readonly link: CatalogRoundLink,
  ) {}

  /** Streams our catalog to the peer (one anti-entropy round), with backpressure. */
  async start(): Promise<void> {
    const round = ++this.#round
    // Updates applied before this link opened were not forwarded on it: wait until they are
    // committed, so the catalog read below (from the store) includes them. Later ones are forwarded.
    await this.host.whenAllCommitted()
    // Tombstones first: a peer that lost its disk must never pull a deleted document back.
    for (const entries of tombstonePages(this.host.tombstones())) {
      if (!this.link.isOpen()) return
      this.link.send({ type: 'tombstones', entries })
      await this.link.whenDrained()
    }
    let page: { name: string; digest: string }[] = []
    for await (const entry of this.host.catalog()) {
      if (!this.link.isOpen()) return
      if (entry.digest === null) continue // corrupt: never offered
      page.push({ name: entry.name, digest: entry.digest })
      if (page.length >= CATALOG_PAGE) {
        this.link.send({ type: 'catalog', round, last: false, entries: page })
        page = []
        await this.link.whenDrained()
      }
    }
    this.link.send({ type: 'catalog', round, last: true, entries: page })
  }

  /** Takes a page of the peer's catalog: queues a pull of every document whose digest differs. */
  async onCatalog(entries: { name: string; digest: string }[], last: boolean, round: number): Promise<void> {
    if (round !== this.#pullingRound) {
      this.#pullingRound = round
      this.#catalogDone = false
    }
    for (const { name, digest } of entries) {
      if (!(await this.host.matchesDigest(name, digest))) this.#pullQueue.push(name)
    }
    if (last) this.#catalogDone = true
    this.#pump()
    this.#maybeSynced()
  }

  /** Asks for a document with our state vector (empty: all of it); the answer is a step2. */
  request(name: string, stateVector: Uint8Array | null): void {
    this.#pullsInFlight.set(name, (this.#pullsInFlight.get(name) ?? 0) + 1)
    this.link.send({ type: 'step1', name, stateVector: stateVector ?? EMPTY_STATE_VECTOR })
  }

  /** A step2 (the answer to a pull) of `name` was applied: the next pull may go out. */
  answered(name: string): void {
    const left = (this.#pullsInFlight.get(name) ?? 1) - 1
    if (left <= 0) this.#pullsInFlight.delete(name)
    else this.#pullsInFlight.set(name, left)
    this.#pump()
    this.#maybeSynced()
  }

  #pump(): void {
    while (this.link.isOpen() && this.#pullsInFlight.size < MAX_PULLS && this.#pullQueue.length > 0) {
      const name = this.#pullQueue.shift()!
      this.#pullsInFlight.set(name, (this.#pullsInFlight.get(name) ?? 0) + 1)
      this.host.stateVectorOf(name).then(
        (sv) => {
          if (this.link.isOpen()) this.link.send({ type: 'step1', name, stateVector: sv })
        },
        () => {
          // A local document we cannot read is repaired as a whole from the peer.
          if (this.link.isOpen()) this.link.send({ type: 'step1', name, stateVector: EMPTY_STATE_VECTOR })
        },
      )
    }
  }

  #maybeSynced(): void {
    if (this.#catalogDone && this.#pullQueue.length === 0 && this.#pullsInFlight.size === 0) {
      this.#catalogDone = false
      // Everything pulled is applied; the synced mark waits until it is durable.
      const seq = this.link.acks.lastSeq
      const round = this.#pullingRound
      void this.link.acks.whenDurableThrough(seq).then(() => this.link.roundPulled(round))
    }
  }
}
