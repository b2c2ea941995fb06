import type { AbstractSnapshot } from 'abstract-level'
import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import { checkDocName, docRange, metaKey, nameOfDataKey, nameOfMetaKey } from '../keys.js'
import { decodeMetaRecord } from '../meta.js'
import { type AnyLevel, RAW, READ_AHEAD, recordsOf } from '../records.js'
import { summarizeRecords } from '../yjsMerge.js'
import { byKeyOrder } from './keyOrder.js'
import type { StoredDoc } from './storedDoc.js'

/** What {@link exportDocs} read. */
export interface ExportedDocs {
  /** The documents read whole, in name order. */
  docs: StoredDoc[]
  /** Names asked for that this store cannot give whole: unknown, awaiting repair, or damaged. */
  unavailable: string[]
}

/**
 * Reads many documents whole, as stored, for a store that never held them: one pass over the
 * key range from the first name to the last (names are asked for in catalog order, so that is
 * usually exactly what is wanted), every value verified against its checksum but sent as stored.
 * Meta records are read in the same pass over their own range, from the same snapshot of the
 * database where the backend offers explicit snapshots, so a digest goes with exactly its records;
 * a document without a cached digest gets one computed from the records read. Stops at a document
 * boundary once `maxBytes` of values were read: names after it are neither in `docs` nor
 * `unavailable`, and the caller asks for them again.
 * @throws TypeError for an invalid name.
 */
export async function exportDocs(
  db: AnyLevel,
  commit: GroupCommit,
  names: readonly string[],
  maxBytes: number,
): Promise<ExportedDocs> {
  for (const name of names) checkDocName(name)
  const sorted = [...new Set(names)].sort(byKeyOrder)
  if (sorted.length === 0) return { docs: [], unavailable: [] }
  const wanted = new Set(sorted)
  const first = sorted[0]!
  const last = sorted[sorted.length - 1]!
  // Explicit snapshots are optional in abstract-level (memory-level and browser-level lack them).
  const snapshot: AbstractSnapshot | undefined = db.supports.explicitSnapshots ? db.snapshot() : undefined
  try {
    const byName = new Map<string, [string, Uint8Array][]>()
    let bytes = 0
    let cutAt: string | null = null
    const data = db.iterator<string, Uint8Array>({
      gte: docRange(first).gte,
      lt: docRange(last).lt,
      snapshot,
      ...RAW,
      ...READ_AHEAD,
    })
    try {
      let current: [string, Uint8Array][] | null = null
      let currentName: string | null = null
      // nextv, not for-await: one promise per thousand entries rather than one per entry.
      scan: for (let page = await data.nextv(1000); page.length > 0; page = await data.nextv(1000)) {
        for (const [key, value] of page) {
          const name = nameOfDataKey(key)
          if (!wanted.has(name)) continue
          if (current === null || currentName !== name) {
            if (bytes >= maxBytes && byName.size > 0) {
              cutAt = name
              break scan
            }
            current = []
            currentName = name
            byName.set(name, current)
          }
          current.push([key, value])
          bytes += value.length
        }
      }
    } finally {
      await data.close()
    }
    const summaries = await readSummaries(db, first, cutAt ?? last, cutAt !== null, snapshot)
    const docs: StoredDoc[] = []
    const unavailable: string[] = []
    for (const name of sorted) {
      if (cutAt !== null && byKeyOrder(name, cutAt) >= 0) break
      const entries = byName.get(name)
      const summary = summaries.get(name)
      // Every value verified here; a damaged one leaves the document to a read that quarantines it.
      const records = entries && recordsOf(name, entries)
      if (!records || summary === undefined || records.badKeys.length > 0 || commit.quarantined.has(name)) {
        unavailable.push(name)
        continue
      }
      const fresh = summary.digest !== null && summary.stateVector !== null
      const { digest, stateVector } = fresh ? summary : summarizeRecords(records)
      const prefix = docRange(name).gte.length
      docs.push({
        name,
        records: entries.map(([key, value]) => ({ suffix: key.slice(prefix), value })),
        digest,
        stateVector,
      })
    }
    return { docs, unavailable }
  } finally {
    await snapshot?.close()
  }
}

/** Meta records of the documents from `first` to `last` (excluded when `lastExcluded`). */
async function readSummaries(
  db: AnyLevel,
  first: string,
  last: string,
  lastExcluded: boolean,
  snapshot: AbstractSnapshot | undefined,
): Promise<Map<string, { digest: string | null; stateVector: Uint8Array | null }>> {
  const out = new Map<string, { digest: string | null; stateVector: Uint8Array | null }>()
  const range = lastExcluded
    ? { gte: metaKey(first), lt: metaKey(last) }
    : { gte: metaKey(first), lte: metaKey(last) }
  const metas = db.iterator<string, Uint8Array>({ ...range, snapshot, ...RAW, ...READ_AHEAD })
  try {
    for (let page = await metas.nextv(1000); page.length > 0; page = await metas.nextv(1000)) {
      for (const [key, value] of page) {
        const meta = decodeMetaRecord(key, value)
        // A damaged meta record leaves its document out; a read of it on this store repairs it.
        if (meta !== null) out.set(nameOfMetaKey(key), meta)
      }
    }
  } finally {
    await metas.close()
  }
  return out
}
