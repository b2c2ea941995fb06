import type { MeshDocRecords } from '@rhizome/protocol'
import type { DocStore, StoredDoc } from '@rhizome/store'
import type { DocDeletion } from '../docs/DocDeletion.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import { DocClaims } from './DocClaims.js'

/** How one page of a peer's catalog is pulled (see {@link Refill.triage}). */
export interface Triage {
  /** Documents this relay never held: fetched whole (`fetch`), claimed for this link. */
  fetch: string[]
  /** Documents this relay holds: their digests are compared and the different ones pulled. */
  compare: { name: string; digest: string }[]
  /** Documents another link is fetching: compared once `after` settles. */
  later: { name: string; digest: string; after: Promise<void> }[]
}

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

  constructor(private readonly host: RefillHost) {}

  /** Sorts a catalog page from the link `owner`; the documents to fetch are claimed for it. */
  async triage(owner: object, entries: { name: string; digest: string }[]): Promise<Triage> {
    const { deletion, docs, repairs, store } = this.host
    const out: Triage = { fetch: [], compare: [], later: [] }
    const held = await store.transfer.held(entries.map((e) => e.name))
    for (const entry of entries) {
      const { name } = entry
      // A deleted document is never pulled back, whatever the peer still holds.
      if (deletion.isDeleted(name)) continue
      if (held.has(name) || repairs.has(name) || docs.isLive(name)) {
        out.compare.push(entry)
        continue
      }
      const claim = this.#claims.claim(name, owner)
      if (claim === true) out.fetch.push(name)
      else out.later.push({ ...entry, after: claim })
    }
    return out
  }

  /** Reads documents whole for a peer's `fetch`; deleted ones are unavailable (never sent). */
  async export(names: string[]): Promise<{ docs: MeshDocRecords[]; unavailable: string[] }> {
    const { deletion, store } = this.host
    const live = names.filter((name) => !deletion.isDeleted(name))
    const { docs, unavailable } = await store.transfer.export(live)
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
        adopted
          .then((ok) => {
            if (!ok) refused.push(name)
          })
          .finally(() => this.#claims.release(name)),
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

  /** Ends every claim of a link that closed. */
  releaseAll(owner: object): void {
    this.#claims.releaseAll(owner)
  }
}
