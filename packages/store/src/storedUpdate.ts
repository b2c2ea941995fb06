import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'
import type { DocReader } from './DocReader.js'
import { scratchDoc } from './yjsMerge.js'

/**
 * A stored document's merged state as one Yjs v1 update (`Y.encodeStateAsUpdate` of a doc with
 * its snapshot and log applied), or `null` when the document is unknown.
 * @throws RhizomeError STORE_CORRUPT (with `doc`) when a record fails its checksum or the document awaits repair.
 */
export async function storedUpdate(reader: DocReader, name: string): Promise<Uint8Array | null> {
  const records = await reader.read(name)
  if (records === null) return null
  // A snapshot is exactly such an encoding, so a compacted document needs no merge.
  if (records.logs.length === 0 && records.snapshot !== null) return records.snapshot.slice()
  const doc = scratchDoc()
  try {
    await reader.apply(name, doc, records)
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/**
 * What `stateVector` lacks of a stored document (`Y.encodeStateAsUpdate(doc, stateVector)`), or
 * `null` when the document is unknown.
 * @throws RhizomeError PROTOCOL_MALFORMED when `stateVector` does not decode (before any read).
 * @throws RhizomeError STORE_CORRUPT as {@link storedUpdate}.
 */
export async function storedDiff(
  reader: DocReader,
  name: string,
  stateVector: Uint8Array,
): Promise<Uint8Array | null> {
  try {
    Y.decodeStateVector(stateVector)
  } catch (cause) {
    throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'not a valid state vector', { cause })
  }
  const records = await reader.read(name)
  if (records === null) return null
  const doc = scratchDoc()
  try {
    await reader.apply(name, doc, records)
    return Y.encodeStateAsUpdate(doc, stateVector)
  } finally {
    doc.destroy()
  }
}
