import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { decodeChecked } from '../checksum.js'
import { docRange, isLogKey, snapshotKey } from '../keys.js'

/** One stored record of a document as it leaves or enters a store whole. */
export interface StoredRecord {
  /** The key after `d:<doc>\0`: `s` for the snapshot, `l...` for a log record. */
  suffix: string
  /** The value exactly as stored: its CRC-32 over the full key and the payload, then the payload. */
  value: Uint8Array
}

/**
 * A document exactly as one store holds it (its snapshot and log records, checksums included),
 * with the digest and state vector of exactly those records when known: what a store that never
 * held the document adopts as it is (`DocStore.adopt`).
 */
export interface StoredDoc {
  name: string
  records: StoredRecord[]
  digest: string | null
  stateVector: Uint8Array | null
}

/** Full key of a record of `name` from its suffix. */
export function recordKey(name: string, suffix: string): string {
  return docRange(name).gte + suffix
}

/**
 * Verifies every record of a document that arrives whole: each key is the snapshot's or a log
 * record's of that document (at most one snapshot) and each value passes its checksum. Returns the
 * payloads (views, not copies), the snapshot first.
 * @throws RhizomeError PROTOCOL_MALFORMED otherwise (the document must not be stored).
 */
export function payloadsOf(doc: StoredDoc): Uint8Array[] {
  if (doc.records.length === 0) throw malformed(doc.name, 'no records')
  const payloads: Uint8Array[] = []
  let snapshot: Uint8Array | null = null
  for (const { suffix, value } of doc.records) {
    const key = recordKey(doc.name, suffix)
    const isSnapshot = key === snapshotKey(doc.name)
    if (!isSnapshot && !(isLogKey(doc.name, key) && suffix.length > 1))
      throw malformed(doc.name, 'a foreign key')
    if (isSnapshot && snapshot !== null) throw malformed(doc.name, 'two snapshots')
    const payload = decodeChecked(key, value)
    if (payload === null) throw malformed(doc.name, `record ${suffix} fails its checksum`)
    if (isSnapshot) snapshot = payload
    else payloads.push(payload)
  }
  if (snapshot !== null) payloads.unshift(snapshot)
  return payloads
}

function malformed(name: string, detail: string): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `stored document ${name}: ${detail}`, { doc: name })
}
