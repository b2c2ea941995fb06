import { MESH_CHUNK_BYTES, type MeshDocRecords } from '@rhizome/protocol'
import type { DocStore, StoredDoc } from '@rhizome/store'
import type { DocDeletion } from '../docs/DocDeletion.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import { type ClaimOutcome, DocClaims } from './DocClaims.js'
import { FetchSlots } from './FetchSlots.js'

/** A catalog entry of a peer: a document and the peer's digest of it. */
export interface Offer {
  name: string
  digest: string
}

/** How one page of a peer's catalog is pulled (see {@link Refill.triage}). */
export interface Triage {
  /** Documents this relay never held: to fetch whole (`fetch`), claimed when asked for. */
  fetch: Offer[]
  /** Documents this relay holds: their digests are compared and the different ones pulled. */
  compare: Offer[]
}

/** Documents to fetch now (claimed), and those another link fetches or fetched (see {@link Refill.claim}). */
export interface Claimed {
  mine: string[]
  /** Fetched by another link, which stored another digest than the one offered: to compare. */
  differ: Offer[]
  /** Being fetched by another link: compared once `ended` settles. */
  others: { offer: Offer; ended: Promise<ClaimOutcome> }[]
}

/**
 * Bytes of stored values one `records` answer carries before it stops at a document boundary:
 * below a mesh frame (with room for names and keys), so that answers travel unchunked and are
 * never reassembled.
 */
const RECORDS_BYTES = MESH_CHUNK_BYTES - 128 * 1024

/** Whole-document fetches in flight across all links (measured: 4 leaves the store idle, 16 adds memory and GC). */
const FETCH_SLOTS = 8

/** What the refill needs from the relay's mesh. */
export interface RefillHost {
  readonly store: DocStore
  readonly docs: DocRegistry
  readonly deletion: DocDeletion
  /** Documents awaiting repair: never fetched whole, always compared (and never matching). */
  readonly repairs: ReadonlySet<string>
}

/**
 * The bulk path of anti-entropy for documents a relay never held (docs/PROTOCOL.md, Mesh: fetch
 * and records): a relay that lost its disk refills at disk speed instead of one step1/step2 per
 * document. Sorts each page of a peer's catalog into documents to fetch whole and documents to
 * compare, keeps each fetched document claimed by one link (several peers at once fetch each
 * document once), reads documents whole for a peer that asked, and adopts those a peer sent.
 */
export class Refill {
  readonly #claims = new DocClaims()
  readonly #slots = new FetchSlots(FETCH_SLOTS)

  constructor(private readonly host: RefillHost) {}

  /** Sorts a page of a peer's catalog into documents this relay never held and those it holds. */
  async triage(entries: Offer[]): Promise<Triage> {
    const { deletion, docs, repairs, store } = this.host
    const out: Triage = { fetch: [], compare: [] }
    const held = await store.hasMany(entries.map((e) => e.name))
    for (const [i, entry] of entries.entries()) {
      const { name } = entry
      // A deleted document is never pulled back, whatever the peer still holds.
      if (deletion.isDeleted(name)) continue
      if (held[i] || repairs.has(name) || docs.isLive(name)) {
        out.compare.push(entry)
        continue
      }
      out.fetch.push(entry)
    }
    return out
  }

  /** Claims documents for the link `owner` as it asks for them; those another link took are returned apart. */
  claim(owner: object, offers: Offer[]): Claimed {
    const out: Claimed = { mine: [], differ: [], others: [] }
    for (const offer of offers) {
      const claim = this.#claims.claim(offer.name, owner)
      if (claim === true) out.mine.push(offer.name)
      else if (typeof claim === 'string') {
        // Stored whole with this digest: holding that state, nothing to pull when it is the offer's.
        if (claim !== offer.digest) out.differ.push(offer)
      } else out.others.push({ offer, ended: claim })
    }
    return out
  }

  /** Reads documents whole for a peer's `fetch`; deleted ones are unavailable (never sent). */
  async export(names: string[]): Promise<{ docs: MeshDocRecords[]; unavailable: string[] }> {
    const { deletion, store } = this.host
    const live = names.filter((name) => !deletion.isDeleted(name))
    const { docs, unavailable } = await store.transfer.export(live, RECORDS_BYTES)
    for (const name of names) if (deletion.isDeleted(name)) unavailable.push(name)
    return {
      docs: docs.map((d) => ({
        name: d.name,
        digest: d.digest ?? '',
        stateVector: d.stateVector ?? new Uint8Array(),
        records: d.records,
      })),
      unavailable,
    }
  }

  /**
   * Adopts documents a peer sent whole (`records`) for the link `owner`. Returns their commit and
   * the names refused (to be pulled with step1 instead); each claim ends when its document did.
   */
  adopt(owner: object, sent: MeshDocRecords[]): { committed: Promise<void>; refused: Promise<string[]> } {
    const refused: string[] = []
    const commits: Promise<void>[] = []
    for (const doc of sent) {
      const { name } = doc
      if (this.host.deletion.isDeleted(name)) {
        this.#claims.release(name)
        continue
      }
      const stored: StoredDoc = {
        name,
        records: doc.records,
        digest: doc.digest === '' ? null : doc.digest,
        stateVector: doc.digest === '' ? null : doc.stateVector,
      }
      const adopted = this.host.docs.adoptWhole(stored, owner)
      commits.push(
        adopted.then(
          (ok) => {
            if (!ok) refused.push(name)
            // This relay now holds at least the state of that digest.
            this.#claims.release(name, ok ? stored.digest : null)
          },
          (err) => {
            this.#claims.release(name)
            throw err
          },
        ),
      )
    }
    const committed = Promise.all(commits).then(() => {})
    return {
      committed,
      refused: committed.then(
        () => refused,
        () => refused,
      ),
    }
  }

  /** Ends a claim without a fetch (the peer cannot send it whole: pulled with step1 instead). */
  release(name: string): void {
    this.#claims.release(name)
  }

  /** Takes one of the relay's fetch slots for `owner`; `wake` is called once one frees up. */
  takeFetchSlot(owner: object, wake: () => void): boolean {
    return this.#slots.take(owner, wake)
  }

  /** Returns a fetch slot of `owner`. */
  giveFetchSlot(owner: object): void {
    this.#slots.give(owner)
  }

  /** Ends every claim and returns every fetch slot of a link that closed. */
  releaseAll(owner: object): void {
    this.#claims.releaseAll(owner)
    this.#slots.giveAll(owner)
  }
}
