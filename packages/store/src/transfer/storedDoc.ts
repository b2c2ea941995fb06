import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { docRange } from '../keys.js'
import { recordsOf } from '../records.js'

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
  const snapshots = doc.records.filter((r) => r.suffix === 's').length
  if (snapshots > 1) throw malformed(doc.name, 'two snapshots')
  // A log suffix is `l` and at least a session and counter; anything else is no key of the document.
  const foreign = doc.records.find((r) => r.suffix !== 's' && (r.suffix[0] !== 'l' || r.suffix.length < 2))
  if (foreign) throw malformed(doc.name, 'a foreign key')
  const records = recordsOf(
    doc.name,
    doc.records.map((r) => [recordKey(doc.name, r.suffix), r.value]),
  )
  if (records.badKeys.length > 0) throw malformed(doc.name, `a record fails its checksum`)
  return records.snapshot === null ? records.logs : [records.snapshot, ...records.logs]
}

function malformed(name: string, detail: string): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `stored document ${name}: ${detail}`, { doc: name })
}
