import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * What the store keeps about one document besides its records. Persisted (checksummed) in the
 * document's meta record, written in the same batch as the log records it counts.
 */
export interface DocMeta {
  /** Log records not yet compacted into the snapshot. */
  updates: number
  /** Payload bytes of those log records. */
  logBytes: number
  /** Payload bytes of the snapshot (0 when there is none). */
  snapshotBytes: number
  /** Cached replica digest, or `null` when stale (an append happened since it was computed). */
  digest: string | null
  /** Cached state vector, valid exactly when `digest` is. */
  stateVector: Uint8Array | null
}

const VERSION = 1

/** Serialises a meta record (without checksum; see `encodeChecked`). Inverse of {@link decodeMeta}. */
export function encodeMeta(meta: DocMeta): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, VERSION)
  encoding.writeVarUint(enc, meta.updates)
  encoding.writeVarUint(enc, meta.logBytes)
  encoding.writeVarUint(enc, meta.snapshotBytes)
  const fresh = meta.digest !== null && meta.stateVector !== null
  encoding.writeUint8(enc, fresh ? 1 : 0)
  if (fresh) {
    encoding.writeVarString(enc, meta.digest as string)
    encoding.writeVarUint8Array(enc, meta.stateVector as Uint8Array)
  }
  return encoding.toUint8Array(enc)
}

/**
 * Parses a meta record written by {@link encodeMeta}.
 * @throws Error when the bytes are not a meta record of a known version (callers treat it as corruption).
 */
export function decodeMeta(bytes: Uint8Array): DocMeta {
  const dec = decoding.createDecoder(bytes)
  const version = decoding.readVarUint(dec)
  if (version !== VERSION) throw new Error(`unknown meta version ${version}`)
  const updates = decoding.readVarUint(dec)
  const logBytes = decoding.readVarUint(dec)
  const snapshotBytes = decoding.readVarUint(dec)
  const fresh = decoding.readUint8(dec) === 1
  const digest = fresh ? decoding.readVarString(dec) : null
  const stateVector = fresh ? decoding.readVarUint8Array(dec).slice() : null
  return { updates, logBytes, snapshotBytes, digest, stateVector }
}

/** A meta record for a document with nothing stored yet. */
export function emptyMeta(): DocMeta {
  return { updates: 0, logBytes: 0, snapshotBytes: 0, digest: null, stateVector: null }
}
