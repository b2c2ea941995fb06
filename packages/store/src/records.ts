import type { AbstractBatchOptions, AbstractLevel } from 'abstract-level'
import { CHECKSUM_BYTES, decodeChecked } from './checksum.js'
import { docRange, isLogKey, snapshotKey } from './keys.js'
import { countLogRecord, type DocMeta, emptyMeta } from './meta.js'

/** Per-call encodings: the caller's database may use any defaults. */
export const RAW = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

/**
 * Iterator option for reads that want everything in their range (bulk transfer, scans):
 * classic-level hands entries over in batches of `highWaterMarkBytes` (16 KiB by default), one
 * thread-pool round trip each, so such reads take them large. Other backends ignore it.
 */
export const READ_AHEAD = { highWaterMarkBytes: 1024 * 1024 } as Record<string, unknown>

/**
 * Options of every durable write: {@link RAW} encodings plus `sync`, a classic-level option (fsync
 * before the batch resolves) that other backends ignore.
 */
export const SYNC_BATCH = { ...RAW, sync: true } as AbstractBatchOptions<string, Uint8Array>

// biome-ignore lint/suspicious/noExplicitAny: the store works over any abstract-level database
export type AnyLevel = AbstractLevel<any, any, any>

/** Everything stored for one document, read through one iterator (one consistent view). */
export interface DocRecords {
  /** Verified snapshot payload, if there is a valid one. */
  snapshot: Uint8Array | null
  /** Verified log payloads. */
  logs: Uint8Array[]
  /** Keys of the verified log records, parallel to `logs`. */
  logKeys: string[]
  /** Payload bytes of every log record read, valid or not (what the meta record counts). */
  logBytesRead: number
  /** Log records read, valid or not. */
  logCountRead: number
  /** Keys whose value failed its checksum. */
  badKeys: string[]
}

/**
 * Reads and verifies the records of a document. Returns `null` when it has none. With `maxLogs`,
 * reads the snapshot and at most that many log records (log keys sort before the snapshot key), so
 * compaction can work through a long log in slices, starting after the key `after` when given; the
 * caller must hold the document exclusively
 * against other compactions and repairs, since the two reads are not one view.
 */
export async function readDocRecords(
  db: AnyLevel,
  name: string,
  maxLogs?: number,
  after?: string,
): Promise<DocRecords | null> {
  let entries: [string, Uint8Array][]
  if (maxLogs === undefined) {
    entries = await db.iterator<string, Uint8Array>({ ...docRange(name), ...RAW }).all()
  } else {
    const start = after === undefined ? { gte: docRange(name).gte } : { gt: after }
    entries = await db
      .iterator<string, Uint8Array>({ ...start, lt: snapshotKey(name), limit: maxLogs, ...RAW })
      .all()
    const snapshot = await db.get<string, Uint8Array>(snapshotKey(name), RAW)
    if (snapshot !== undefined) entries.push([snapshotKey(name), snapshot])
  }
  if (entries.length === 0) return null
  return recordsOf(name, entries)
}

/** Verifies the raw `[key, value]` records of document `name` (read in one view) into its {@link DocRecords}. */
export function recordsOf(name: string, entries: readonly [string, Uint8Array][]): DocRecords {
  const records: DocRecords = {
    snapshot: null,
    logs: [],
    logKeys: [],
    logBytesRead: 0,
    logCountRead: 0,
    badKeys: [],
  }
  for (const [key, value] of entries) {
    const payload = decodeChecked(key, value)
    const log = isLogKey(name, key)
    if (log) {
      records.logCountRead++
      records.logBytesRead += Math.max(0, value.length - CHECKSUM_BYTES)
    }
    if (payload === null) records.badKeys.push(key)
    else if (log) {
      records.logs.push(payload)
      records.logKeys.push(key)
    } else if (key === snapshotKey(name)) records.snapshot = payload
    else records.badKeys.push(key)
  }
  return records
}

/** Recomputes a document's meta record from its stored records (after the meta itself was damaged). */
export async function rebuildMeta(db: AnyLevel, name: string): Promise<DocMeta> {
  const meta = emptyMeta()
  for await (const [key, value] of db.iterator<string, Uint8Array>({ ...docRange(name), ...RAW })) {
    const bytes = Math.max(0, value.length - CHECKSUM_BYTES)
    if (isLogKey(name, key)) countLogRecord(meta, bytes)
    else meta.snapshotBytes = bytes
  }
  return meta
}
