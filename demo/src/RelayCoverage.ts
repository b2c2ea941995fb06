import { fetchRelayCatalogs, type RelayCatalog } from './supervisorApi.js'

/**
 * How many relay stores hold a note that is not open, as far as the demo can tell: the client
 * reports durable copies only for open documents (`handle.copies`), so for the others the demo
 * compares this device's digest of the note with the digests in each relay's `/docs` catalog
 * (read through the supervisor). A relay whose catalog has the same digest holds exactly the
 * local state in its store (docs/PROTOCOL.md section 1: the digest covers state vector and
 * delete set). Without a supervisor nothing is known, and {@link RelayCoverage.copies} says so.
 */
export class RelayCoverage {
  #catalogs: RelayCatalog[] | null = null

  constructor(private readonly prefix: string) {}

  /** True once catalogs were read; false without a supervisor. */
  get known(): boolean {
    return this.#catalogs !== null
  }

  /** Reads every relay's catalog again. */
  async refresh(): Promise<void> {
    this.#catalogs = await fetchRelayCatalogs(this.prefix)
  }

  /**
   * Relays whose catalog holds `name` with digest `localDigest`; null when unknown (no supervisor,
   * or the local digest is not known yet).
   */
  copies(name: string, localDigest: string | null): number | null {
    if (this.#catalogs === null || localDigest === null) return null
    let k = 0
    for (const relay of this.#catalogs) if (relay.digests?.[name] === localDigest) k++
    return k
  }
}
