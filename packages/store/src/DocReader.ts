import { RhizomeError } from '@rhizome/protocol'
import type * as Y from 'yjs'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { checkDocName, metaKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import type { MetaEntry } from './MetaCache.js'
import { decodeMetaRecord } from './meta.js'
import { corruptError, quarantineDamaged, quarantineUnappliable } from './quarantine.js'
import { type AnyLevel, type DocRecords, RAW, readDocRecords, rebuildMeta } from './records.js'
import { applyRecords } from './yjsMerge.js'

/**
 * Reads outside the commit path. Every value read is verified: a record that fails its checksum,
 * or that Yjs cannot apply, quarantines its document (persisted repair marker) and the read throws
 * `STORE_CORRUPT`; damaged data is never served as if whole.
 */
export class DocReader {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #life: Lifecycle

  constructor(db: AnyLevel, commit: GroupCommit, life: Lifecycle) {
    this.#db = db
    this.#commit = commit
    this.#life = life
  }

  /**
   * The committed meta entry of a document (cached, or loaded and cached), `null` when unknown. A
   * damaged meta record is quarantined and rebuilt from the document's records.
   */
  async metaEntry(name: string): Promise<MetaEntry | null> {
    const cache = this.#commit.cache
    const cached = cache.get(name)
    if (cached !== undefined) return cached
    const endLoad = cache.beginLoad()
    try {
      const key = metaKey(name)
      const raw = await this.#db.get<string, Uint8Array>(key, RAW)
      if (raw === undefined) return cache.get(name) ?? null
      let meta = decodeMetaRecord(key, raw)
      if (meta === null) {
        await quarantineDamaged(this.#commit, this.#db, name, [key])
        meta = await rebuildMeta(this.#db, name)
      }
      return cache.setIfAbsent(name, { meta, gen: this.#commit.nextGen() })
    } finally {
      endLoad()
    }
  }

  /**
   * Reads and verifies a document (see `readDocRecords` for `maxLogs` and `after`), `null` when unknown.
   * @throws RhizomeError STORE_CLOSED after close.
   * @throws RhizomeError STORE_CORRUPT when it is quarantined or anything read is damaged (then quarantined).
   */
  async read(name: string, maxLogs?: number, after?: string): Promise<DocRecords | null> {
    this.#life.assertOpen()
    checkDocName(name)
    const quarantined = this.#commit.quarantined
    if (quarantined.has(name)) throw corruptError(name)
    // Loading the meta record verifies it too (usually a cache hit), so a damaged meta is reported here as well.
    await this.metaEntry(name)
    if (quarantined.has(name)) throw corruptError(name)
    const records = await readDocRecords(this.#db, name, maxLogs, after)
    if (records !== null && records.badKeys.length > 0) {
      await quarantineDamaged(this.#commit, this.#db, name, records.badKeys)
      throw corruptError(name)
    }
    return records
  }

  /**
   * Applies a document's records to `doc`. A record that passes its checksum but that Yjs cannot
   * apply (written by an older, buggier build, or damaged before it was checksummed) makes the
   * document corrupt as well: marked for repair, never served as if whole.
   * @throws RhizomeError STORE_CORRUPT in that case.
   */
  async apply(name: string, doc: Y.Doc, records: DocRecords, origin?: unknown): Promise<void> {
    try {
      applyRecords(doc, records, origin)
    } catch (cause) {
      if (cause instanceof RhizomeError) throw cause
      await quarantineUnappliable(this.#commit, name, cause)
      throw corruptError(name)
    }
  }
}
