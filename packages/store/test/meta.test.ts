import { describe, expect, it } from 'vitest'
import { encodeChecked } from '../src/checksum.js'
import {
  clearSummary,
  countCompacted,
  countLogRecord,
  type DocMeta,
  decodeMetaRecord,
  emptyMeta,
  encodeMetaRecord,
  setSummary,
  storedBytes,
} from '../src/meta.js'

const KEY = 'm:notes/today'

function sample(): DocMeta {
  return {
    updates: 3,
    logBytes: 120,
    snapshotBytes: 4000,
    digest: 'ab'.repeat(32),
    stateVector: Uint8Array.of(1, 2, 3),
    seq: 7,
  }
}

describe('encodeMetaRecord / decodeMetaRecord', () => {
  it('round-trips a meta record with and without a cached summary', () => {
    expect(decodeMetaRecord(KEY, encodeMetaRecord(KEY, sample()))).toEqual(sample())
    const stale = sample()
    clearSummary(stale)
    expect(decodeMetaRecord(KEY, encodeMetaRecord(KEY, stale))).toEqual(stale)
    expect(decodeMetaRecord(KEY, encodeMetaRecord(KEY, emptyMeta()))).toEqual(emptyMeta())
  })

  it('reads a version-1 record (written before change sequence numbers) with seq 0', () => {
    // version 1, updates 2, logBytes 10, snapshotBytes 0, no summary
    const v1 = encodeChecked(KEY, Uint8Array.of(1, 2, 10, 0, 0))
    expect(decodeMetaRecord(KEY, v1)).toEqual({ ...emptyMeta(), updates: 2, logBytes: 10 })
  })

  it('returns null for a damaged record, one stored under another key, and an unknown version', () => {
    const value = encodeMetaRecord(KEY, sample())
    const flipped = value.slice()
    flipped[flipped.length - 1]! ^= 1
    expect(decodeMetaRecord(KEY, flipped)).toBeNull()
    expect(decodeMetaRecord('m:other', value)).toBeNull()
    // A valid checksum over bytes that are not a meta record of a known version.
    expect(decodeMetaRecord(KEY, encodeChecked(KEY, Uint8Array.of(99, 0, 0, 0, 0)))).toBeNull()
  })
})

describe('meta rules', () => {
  it('counts log records without touching the summary; stored bytes are snapshot plus log', () => {
    const meta = sample()
    countLogRecord(meta, 30)
    expect(meta).toMatchObject({ updates: 4, logBytes: 150, digest: sample().digest })
    expect(storedBytes(meta)).toBe(4150)
  })

  it('compaction subtracts what was read, clamped at zero, and sets the snapshot size', () => {
    const meta = sample()
    countCompacted(meta, { logCountRead: 2, logBytesRead: 100 }, 4100)
    expect(meta).toMatchObject({ updates: 1, logBytes: 20, snapshotBytes: 4100 })
    countCompacted(meta, { logCountRead: 5, logBytesRead: 500 }, 4200)
    expect(meta).toMatchObject({ updates: 0, logBytes: 0, snapshotBytes: 4200 })
  })

  it('sets and clears the digest and state vector together', () => {
    const meta = emptyMeta()
    setSummary(meta, 'cd'.repeat(32), Uint8Array.of(7))
    expect(meta.digest).toBe('cd'.repeat(32))
    expect(meta.stateVector).toEqual(Uint8Array.of(7))
    clearSummary(meta)
    expect(meta.digest).toBeNull()
    expect(meta.stateVector).toBeNull()
  })
})
