import {
  EMPTY_STATE_VECTOR,
  type MeshDocRecords,
  type MeshMessage,
  type MeshTombstone,
} from '@rhizome/protocol'
import type { ClaimOutcome } from './DocClaims.js'
import type { InboundAcks } from './InboundAcks.js'
import { malformedMesh } from './malformedMesh.js'
import { tombstonePages } from './meshTombstones.js'
import type { Claimed, Offer, Triage } from './Refill.js'

/** Catalog entries per page. */
const CATALOG_PAGE = 256
/** Pull requests (step1) in flight per link. */
const MAX_PULLS = 32
/** Documents asked for in one `fetch`: small enough that the answer of documents of ~10 KB fits one frame. */
const FETCH_NAMES = 64
/** `fetch`es in flight per link (the relay's budget across links is `Refill`'s). */
const MAX_FETCHES = 8

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
  /** Sorts a page of the peer's catalog into documents to fetch whole and documents to compare. */
  triage(entries: Offer[]): Promise<Triage>
  /** Claims documents to fetch as they are asked for; those another link fetches come back apart. */
  claim(owner: object, offers: Offer[]): Claimed
  /** Adopts documents the peer sent whole; `refused` lists those to pull with step1 instead. */
  adopt(owner: object, docs: MeshDocRecords[]): { committed: Promise<void>; refused: Promise<string[]> }
  /** Ends the claim on a document the peer could not send whole. */
  releaseClaim(name: string): void
  /** Takes one of the relay's fetch slots; when none is free, `wake` is called once one is. */
  takeFetchSlot(owner: object, wake: () => void): boolean
  /** Returns a fetch slot (its fetch was answered). */
  giveFetchSlot(owner: object): void
}

/** What an anti-entropy round does on its link. */
export interface CatalogRoundLink {
  /** The link itself: what claims of documents to fetch belong to. */
  readonly owner: object
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
 * The anti-entropy rounds of one link (mesh messages `catalog`, `step1`, `step2`, `fetch`,
 * `records`, `synced`), both halves: streaming our catalog to the peer in pages with backpressure,
 * and pulling what differs in the peer's catalog: documents this relay never held are fetched
 * whole, a page at a time ({@link MAX_FETCHES} fetches in flight), and each held document whose
 * digest differs is pulled with step1, at most {@link MAX_PULLS} at a time. Once a full catalog of
 * the peer's was pulled and everything pulled is durable, the round is marked pulled (the link
 * then sends `synced`).
 */
export class CatalogRound {
  #round = 0
  // Pull side of the current round.
  #pullQueue: string[] = []
  #pullsInFlight = new Map<string, number>()
  #catalogDone = false
  #pullingRound = 0
  // Whole-document fetches of the current round.
  #fetchQueue: Offer[] = []
  /** What each fetch in flight asked for, in the order they were sent (answers come in that order). */
  #fetching: Offer[][] = []
  /** Documents whose comparison waits for another link's fetch or for a refused adoption. */
  #waiting = 0

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
    const { fetch, compare } = await this.host.triage(entries)
    this.#fetchQueue.push(...fetch)
    this.#pumpFetches()
    for (const { name, digest } of compare) {
      if (!(await this.host.matchesDigest(name, digest))) this.#pullQueue.push(name)
    }
    if (last) this.#catalogDone = true
    this.#pump()
    this.#maybeSynced()
  }

  /** Names to pull with step1 once `names` resolves; the round is not pulled before. */
  #later(names: Promise<string[]>): void {
    this.#waiting++
    names
      .then(
        (list) => this.#pullQueue.push(...list),
        () => {},
      )
      .finally(() => {
        this.#waiting--
        this.#pump()
        this.#maybeSynced()
      })
  }

  /** After another link fetched a document: pulled here too unless what it stored is what our peer offers. */
  async #compare(offer: Offer, ended: ClaimOutcome): Promise<string[]> {
    if (!this.link.isOpen() || ended === offer.digest) return []
    return (await this.host.matchesDigest(offer.name, offer.digest)) ? [] : [offer.name]
  }

  #pumpFetches(): void {
    const owner = this.link.owner
    while (this.link.isOpen() && this.#fetching.length < MAX_FETCHES && this.#fetchQueue.length > 0) {
      if (!this.host.takeFetchSlot(owner, () => this.#pumpFetches())) return
      const offers = this.#fetchQueue.splice(0, FETCH_NAMES)
      const { mine, differ, others } = this.host.claim(owner, offers)
      for (const { offer, ended } of others) this.#later(ended.then((d) => this.#compare(offer, d)))
      if (differ.length > 0)
        this.#later(Promise.all(differ.map((o) => this.#compare(o, null))).then((l) => l.flat()))
      if (mine.length === 0) {
        this.host.giveFetchSlot(owner)
        continue
      }
      const claimed = new Set(mine)
      this.#fetching.push(offers.filter((o) => claimed.has(o.name)))
      this.link.send({ type: 'fetch', names: mine })
    }
  }

  /**
   * Takes the answer to the oldest fetch in flight: adopts the documents sent, pulls those the
   * peer could not send whole with step1, and asks again for those it left for a later answer.
   * Returns the commit of what it adopted (the link acknowledges it).
   * @throws RhizomeError PROTOCOL_MALFORMED for an answer to no fetch, or one naming documents not asked for.
   */
  onRecords(docs: MeshDocRecords[], unavailable: string[]): Promise<void> {
    const asked = this.#fetching.shift()
    if (asked === undefined) throw malformedMesh('records without a fetch')
    this.host.giveFetchSlot(this.link.owner)
    const left = new Set(asked.map((o) => o.name))
    for (const name of [...docs.map((d) => d.name), ...unavailable]) {
      if (!left.delete(name)) throw malformedMesh('records of a document not asked for')
    }
    for (const name of unavailable) {
      this.host.releaseClaim(name)
      this.#pullQueue.push(name)
    }
    // An answer that carried nothing would be asked again forever: pull those with step1.
    if (docs.length === 0 && unavailable.length === 0) {
      for (const name of left) {
        this.host.releaseClaim(name)
        this.#pullQueue.push(name)
      }
    } else this.#fetchQueue.unshift(...asked.filter((o) => left.has(o.name)))
    const { committed, refused } = this.host.adopt(this.link.owner, docs)
    this.#later(refused)
    this.#pumpFetches()
    this.#pump()
    this.#maybeSynced()
    return committed
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
    if (
      this.#catalogDone &&
      this.#pullQueue.length === 0 &&
      this.#pullsInFlight.size === 0 &&
      this.#fetchQueue.length === 0 &&
      this.#fetching.length === 0 &&
      this.#waiting === 0
    ) {
      this.#catalogDone = false
      // Everything pulled is applied; the synced mark waits until it is durable.
      const seq = this.link.acks.lastSeq
      const round = this.#pullingRound
      void this.link.acks.whenDurableThrough(seq).then(() => this.link.roundPulled(round))
    }
  }
}
