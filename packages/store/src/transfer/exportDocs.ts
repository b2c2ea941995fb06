import { digestOfDoc } from '@rhizome/protocol'
import type { AbstractSnapshot } from 'abstract-level'
import * as Y from 'yjs'
import { CHECKSUM_BYTES, decodeChecked } from '../checksum.js'
import type { GroupCommit } from '../groupCommit/GroupCommit.js'
import { checkDocName, docRange, metaKey, nameOfDataKey, nameOfMetaKey } from '../keys.js'
import { decodeMetaRecord } from '../meta.js'
import { type AnyLevel, RAW, READ_AHEAD } from '../records.js'
import { scratchDoc } from '../yjsMerge.js'
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
    const byName = new Map<string, StoredDoc>()
    const damaged = new Set<string>()
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
      let current: StoredDoc | null = null
      // nextv, not for-await: one promise per thousand entries rather than one per entry.
      scan: for (let page = await data.nextv(1000); page.length > 0; page = await data.nextv(1000)) {
        for (const [key, value] of page) {
          const name = nameOfDataKey(key)
          if (!wanted.has(name)) continue
          if (current === null || current.name !== name) {
            if (bytes >= maxBytes && byName.size > 0) {
              cutAt = name
              break scan
            }
            current = { name, records: [], digest: null, stateVector: null }
            byName.set(name, current)
          }
          if (decodeChecked(key, value) === null) damaged.add(name)
          current.records.push({ suffix: key.slice(docRange(name).gte.length), value })
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
      const doc = byName.get(name)
      const summary = summaries.get(name)
      if (doc === undefined || summary === undefined || damaged.has(name) || commit.quarantined.has(name)) {
        unavailable.push(name)
        continue
      }
      if (summary.digest !== null && summary.stateVector !== null) {
        doc.digest = summary.digest
        doc.stateVector = summary.stateVector
      } else summarize(doc)
      docs.push(doc)
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

/** Computes the digest and state vector of exactly the records read (snapshot first). */
function summarize(doc: StoredDoc): void {
  const ydoc = scratchDoc()
  try {
    Y.transact(ydoc, () => {
      const snapshot = doc.records.find((r) => r.suffix === 's')
      if (snapshot) Y.applyUpdate(ydoc, snapshot.value.subarray(CHECKSUM_BYTES))
      for (const r of doc.records) if (r !== snapshot) Y.applyUpdate(ydoc, r.value.subarray(CHECKSUM_BYTES))
    })
    doc.digest = digestOfDoc(ydoc)
    doc.stateVector = Y.encodeStateVector(ydoc)
  } finally {
    ydoc.destroy()
  }
}
