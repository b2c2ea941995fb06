import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { decodeChecked } from './checksum.js'
import type { DigestCache } from './DigestCache.js'
import type { DocReader } from './DocReader.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { metaRange, metaRangeFrom, nameOfMetaKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { type DocMeta, decodeMeta, emptyMeta, storedBytes } from './meta.js'
import { type AnyLevel, RAW } from './records.js'

/** One document as listed by `DocStore.catalog`. */
export interface CatalogEntry {
  name: string
  /** Replica digest (see `digestOfDoc`), `null` when the document is corrupt. */
  digest: string | null
  /** Stored payload bytes: snapshot plus log. */
  bytes: number
  /** Log records not yet compacted. */
  updates: number
  /** The document needs repair from a peer. */
  corrupt: boolean
}

const CATALOG_PAGE = 256

/**
 * The list of all documents with their digests, read from the meta records, so that anti-entropy
 * need not read every document. Stale digests are computed one document at a time (and written
 * back by the digest cache); corrupt documents are listed with `digest: null, corrupt: true`.
 */
export class Catalog {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #reader: DocReader
  readonly #digests: DigestCache
  readonly #life: Lifecycle

  constructor(db: AnyLevel, commit: GroupCommit, reader: DocReader, digests: DigestCache, life: Lifecycle) {
    this.#db = db
    this.#commit = commit
    this.#reader = reader
    this.#digests = digests
    this.#life = life
  }

  /** Catalog entry of one document, or `null` when unknown. The caller checks the name. */
  async info(name: string): Promise<CatalogEntry | null> {
    const entry = await this.#reader.metaEntry(name)
    if (entry === null) return null
    return this.#entry(name, entry.meta)
  }

  /**
   * All documents in name (byte) order, starting after `after`, at most `limit`, read in pages.
   * @throws RhizomeError STORE_CLOSED when the store closes before the next page.
   */
  async *list(
    options: { after?: string; limit?: number; prefix?: string } = {},
  ): AsyncIterable<CatalogEntry> {
    const prefix = options.prefix ?? ''
    let cursor = options.after
    // Names starting with the prefix sort from the prefix itself on: start there (inclusive).
    let first = prefix !== '' && (cursor === undefined || cursor < prefix)
    if (first) cursor = undefined
    let remaining = options.limit ?? Number.POSITIVE_INFINITY
    while (remaining > 0) {
      this.#life.assertOpen()
      const limit = Math.min(CATALOG_PAGE, remaining)
      const range = first ? metaRangeFrom(prefix) : metaRange(cursor)
      first = false
      const page = await this.#db.iterator<string, Uint8Array>({ ...range, limit, ...RAW }).all()
      for (const [key, value] of page) {
        const name = nameOfMetaKey(key)
        if (!name.startsWith(prefix)) return
        cursor = name
        remaining--
        const cached = this.#commit.cache.get(name)
        let meta: DocMeta | null = cached?.meta ?? null
        if (meta === null) {
          const payload = decodeChecked(key, value)
          if (payload !== null) meta = decodeMeta(payload)
          else meta = (await this.#reader.metaEntry(name))?.meta ?? emptyMeta()
        }
        yield await this.#entry(name, meta)
      }
      if (page.length < limit) return
    }
  }

  async #entry(name: string, meta: DocMeta): Promise<CatalogEntry> {
    const bytes = storedBytes(meta)
    const corrupt = (): CatalogEntry => ({ name, digest: null, bytes, updates: meta.updates, corrupt: true })
    if (this.#commit.quarantined.has(name)) return corrupt()
    if (meta.digest !== null)
      return { name, digest: meta.digest, bytes, updates: meta.updates, corrupt: false }
    try {
      const summary = await this.#digests.summary(name)
      const current = this.#commit.cache.get(name)?.meta ?? meta
      return {
        name,
        digest: summary?.digest ?? null,
        bytes: storedBytes(current),
        updates: current.updates,
        corrupt: false,
      }
    } catch (err) {
      if (err instanceof RhizomeError && err.code === ErrorCode.STORE_CORRUPT) return corrupt()
      throw err
    }
  }
}
