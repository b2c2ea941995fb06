import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeChecked, encodeChecked } from './checksum.js'

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
  /** Change sequence of the document's last content change (0: none recorded; see `ChangeFeed`). */
  seq: number
}

/** Version 2 added `seq`; version 1 records read as `seq: 0`. */
const VERSION = 2

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
  encoding.writeVarUint(enc, meta.seq)
  return encoding.toUint8Array(enc)
}

/**
 * Parses a meta record written by {@link encodeMeta}.
 * @throws Error when the bytes are not a meta record of a known version (callers treat it as corruption).
 */
export function decodeMeta(bytes: Uint8Array): DocMeta {
  const dec = decoding.createDecoder(bytes)
  const version = decoding.readVarUint(dec)
  if (version !== VERSION && version !== 1) throw new Error(`unknown meta version ${version}`)
  const updates = decoding.readVarUint(dec)
  const logBytes = decoding.readVarUint(dec)
  const snapshotBytes = decoding.readVarUint(dec)
  const fresh = decoding.readUint8(dec) === 1
  const digest = fresh ? decoding.readVarString(dec) : null
  const stateVector = fresh ? decoding.readVarUint8Array(dec).slice() : null
  const seq = version >= 2 ? decoding.readVarUint(dec) : 0
  if (dec.pos !== bytes.length) throw new Error('trailing bytes in meta record')
  return { updates, logBytes, snapshotBytes, digest, stateVector, seq }
}

/** A meta record for a document with nothing stored yet. */
export function emptyMeta(): DocMeta {
  return { updates: 0, logBytes: 0, snapshotBytes: 0, digest: null, stateVector: null, seq: 0 }
}

/** A meta record as stored under `key`: {@link encodeMeta} framed by `encodeChecked`. */
export function encodeMetaRecord(key: string, meta: DocMeta): Uint8Array {
  return encodeChecked(key, encodeMeta(meta))
}

/**
 * Verifies and parses a stored meta record. Returns `null` when it fails its checksum or does not
 * parse: either way the record is damaged and the caller treats it as corruption.
 */
export function decodeMetaRecord(key: string, value: Uint8Array): DocMeta | null {
  const payload = decodeChecked(key, value)
  if (payload === null) return null
  try {
    return decodeMeta(payload)
  } catch {
    return null
  }
}

/** Payload bytes the document occupies: snapshot plus log. */
export function storedBytes(meta: DocMeta): number {
  return meta.logBytes + meta.snapshotBytes
}

/** Counts one more log record of `bytes` payload bytes (does not touch the cached summary). */
export function countLogRecord(meta: DocMeta, bytes: number): void {
  meta.updates++
  meta.logBytes += bytes
}

/**
 * Accounts for log records merged into a new snapshot of `snapshotBytes`: what was read leaves the
 * log counts, clamped at zero so that a meta record which undercounted its log stays valid.
 */
export function countCompacted(
  meta: DocMeta,
  read: { logCountRead: number; logBytesRead: number },
  snapshotBytes: number,
): void {
  meta.updates = Math.max(0, meta.updates - read.logCountRead)
  meta.logBytes = Math.max(0, meta.logBytes - read.logBytesRead)
  meta.snapshotBytes = snapshotBytes
}

/** Caches the digest and state vector of the document's current state (they are valid together). */
export function setSummary(meta: DocMeta, digest: string, stateVector: Uint8Array): void {
  meta.digest = digest
  meta.stateVector = stateVector
}

/** Marks the cached digest and state vector stale (the state changed, or they cannot be trusted). */
export function clearSummary(meta: DocMeta): void {
  meta.digest = null
  meta.stateVector = null
}
