import * as Y from 'yjs'
import type { DocReader } from './DocReader.js'
import { dataRange, nameOfDataKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { type AnyLevel, RAW, READ_AHEAD, recordsOf } from './records.js'
import { scratchDoc } from './yjsMerge.js'

/** One document of {@link scanStates}: its name and its whole state as one Yjs v1 update. */
export interface ScannedState {
  name: string
  update: Uint8Array
}

/** Records read per call into the database while scanning. */
const SCAN_PAGE = 512

/**
 * Every stored document whose name starts with `prefix`, in name (byte) order, with its merged
 * state as one Yjs v1 update, read through ONE iterator over the data records instead of one per
 * document (a device pushing 10,000 documents to a wiped relay spent most of its time opening and
 * closing per-document iterators). A document held as a single log record or as a snapshot alone
 * is yielded as those bytes (they already are its whole state; merging them through a Y.Doc would
 * only re-encode them); others are merged through a scratch Y.Doc. Quarantined documents and
 * documents with a record that fails its checksum or that Yjs cannot apply are left out (the
 * damaged ones are quarantined on the way, as by any read). The scan sees one consistent view of
 * the database; documents appended to while it runs may be yielded in their earlier state.
 * @throws RhizomeError STORE_CLOSED when the store closes before the scan ends.
 */
export async function* scanStates(
  db: AnyLevel,
  reader: DocReader,
  life: Lifecycle,
  quarantined: ReadonlySet<string>,
  prefix = '',
): AsyncIterable<ScannedState> {
  life.assertOpen()
  const range = prefixRange(prefix)
  const it = db.iterator<string, Uint8Array>({ ...range, ...RAW, ...READ_AHEAD })
  let name: string | null = null
  let entries: [string, Uint8Array][] = []
  try {
    scan: for (;;) {
      const page = await it.nextv(SCAN_PAGE)
      for (const entry of page) {
        const at = nameOfDataKey(entry[0])
        if (!at.startsWith(prefix)) break scan
        if (at !== name) {
          if (name !== null) {
            const state = await stateOf(reader, quarantined, name, entries)
            if (state !== null) yield { name, update: state }
          }
          name = at
          entries = []
        }
        entries.push(entry)
      }
      // A short page is not the end (a backend may cap a page by bytes): only an empty one is.
      if (page.length === 0) break
      life.assertOpen()
    }
    if (name !== null) {
      const state = await stateOf(reader, quarantined, name, entries)
      if (state !== null) yield { name, update: state }
    }
  } finally {
    await it.close()
  }
}

/** The data range of the documents whose names start with `prefix`. */
function prefixRange(prefix: string): { gt: string; lt: string } | { gte: string; lt: string } {
  if (prefix === '') return dataRange()
  const all = dataRange()
  const last = prefix.charCodeAt(prefix.length - 1)
  // Past every name starting with `prefix`: the prefix with its last code unit incremented (a
  // surrogate there would not encode as itself: scan to the end of the data range instead).
  const lt =
    last >= 0xd800 && last <= 0xdfff
      ? all.lt
      : `${all.gt}${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}`
  return { gte: `${all.gt}${prefix}`, lt }
}

/** The whole state of `name` from its records, or null when it is quarantined or damaged. */
async function stateOf(
  reader: DocReader,
  quarantined: ReadonlySet<string>,
  name: string,
  entries: [string, Uint8Array][],
): Promise<Uint8Array | null> {
  if (quarantined.has(name)) return null
  const records = recordsOf(name, entries)
  if (records.badKeys.length > 0) {
    // The ordinary read finds the same damage and quarantines the document.
    await reader.read(name).catch(() => {})
    return null
  }
  if (records.snapshot === null && records.logs.length === 1) return records.logs[0]!.slice()
  if (records.snapshot !== null && records.logs.length === 0) return records.snapshot.slice()
  const doc = scratchDoc()
  try {
    await reader.apply(name, doc, records)
    return Y.encodeStateAsUpdate(doc)
  } catch {
    // Quarantined by the apply (a record Yjs cannot apply): left out like any damaged document.
    return null
  } finally {
    doc.destroy()
  }
}
