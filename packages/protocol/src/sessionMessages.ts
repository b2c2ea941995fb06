import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ErrorCode, RhizomeError } from './errors.js'
import { readCount, readLengthPrefixed, readSafeVarUint } from './wireReads.js'

/** Version of the device-session protocol spoken on `/_session` (docs/PROTOCOL.md section 7.2). */
export const SESSION_PROTOCOL_VERSION = 1

/** The y-protocols sync step a `sync` session message carries. */
export type SessionSyncStep = 'step1' | 'step2' | 'update'

/** Where a device left off with one relay store: that store's id and its change sequence. */
export interface SessionCheckpoint {
  storeId: string
  seq: number
}

/** One document in a `changes` listing. */
export interface ChangeEntry {
  doc: string
  /** The relay's digest of the document (docs/PROTOCOL.md section 1); empty for a tombstone. */
  digest: string
  /** Set for a deleted document: when it was deleted (ms since the epoch). */
  deletedAt?: number
}

/**
 * Messages of a device session: one WebSocket per replica per relay that carries every document
 * the device replicates (docs/PROTOCOL.md section 7.2).
 *
 * Device to relay: `hello` (first message: version, the checkpoint the device holds for this
 * relay, the patterns it replicates), `replicate` (more patterns), `open`/`close` (the device shows
 * the document: it gets awareness), `sync` (y-protocols sync of one document), `awareness`,
 * `delete` (delete a document on every relay).
 *
 * Relay to device: `welcome` (relay and store ids, the store's change sequence, whether the
 * checkpoint was honoured), `changes` (pages of documents that changed since the checkpoint, or
 * every matching document when it was not), `sync`, `awareness`, `ack` (per document, the meaning
 * of section 3), `checkpoint` (every change through `seq` was sent), `refused` (one document is
 * refused with a section 4 code; the session stays open), `deleted` (a tombstone), `keepalive`.
 */
export type SessionMessage =
  | { type: 'hello'; version: number; checkpoint: SessionCheckpoint | null; patterns: string[] }
  | { type: 'replicate'; patterns: string[] }
  | { type: 'open'; doc: string }
  | { type: 'close'; doc: string }
  | { type: 'sync'; doc: string; step: SessionSyncStep; payload: Uint8Array }
  | { type: 'awareness'; doc: string; update: Uint8Array }
  | { type: 'delete'; doc: string }
  | { type: 'welcome'; version: number; relayId: string; storeId: string; seq: number; resumed: boolean }
  | { type: 'changes'; round: number; entries: ChangeEntry[]; last: boolean; seq: number }
  | { type: 'ack'; doc: string; n: number; copies: number }
  | { type: 'checkpoint'; seq: number }
  | { type: 'refused'; doc: string; code: number; reason: string }
  | { type: 'deleted'; doc: string; at: number }
  | { type: 'keepalive' }

const tags = {
  hello: 1,
  replicate: 2,
  open: 3,
  close: 4,
  sync: 5,
  awareness: 6,
  delete: 7,
  welcome: 20,
  changes: 21,
  ack: 22,
  checkpoint: 23,
  refused: 24,
  deleted: 25,
  keepalive: 26,
} as const

const steps: readonly SessionSyncStep[] = ['step1', 'step2', 'update']

/** Message types a device may send; a relay closes a session that sends any other with 4400. */
export const DEVICE_SESSION_MESSAGES: ReadonlySet<SessionMessage['type']> = new Set([
  'hello',
  'replicate',
  'open',
  'close',
  'sync',
  'awareness',
  'delete',
])

function writePatterns(e: encoding.Encoder, patterns: readonly string[]): void {
  encoding.writeVarUint(e, patterns.length)
  for (const p of patterns) encoding.writeVarString(e, p)
}

/** Encodes one session message. Inverse of {@link decodeSessionMessage}. */
export function encodeSessionMessage(m: SessionMessage): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, tags[m.type])
  switch (m.type) {
    case 'hello':
      encoding.writeVarUint(e, m.version)
      encoding.writeVarString(e, m.checkpoint?.storeId ?? '')
      encoding.writeVarUint(e, m.checkpoint?.seq ?? 0)
      writePatterns(e, m.patterns)
      break
    case 'replicate':
      writePatterns(e, m.patterns)
      break
    case 'open':
    case 'close':
    case 'delete':
      encoding.writeVarString(e, m.doc)
      break
    case 'sync':
      encoding.writeVarString(e, m.doc)
      encoding.writeVarUint(e, steps.indexOf(m.step))
      encoding.writeVarUint8Array(e, m.payload)
      break
    case 'awareness':
      encoding.writeVarString(e, m.doc)
      encoding.writeVarUint8Array(e, m.update)
      break
    case 'welcome':
      encoding.writeVarUint(e, m.version)
      encoding.writeVarString(e, m.relayId)
      encoding.writeVarString(e, m.storeId)
      encoding.writeVarUint(e, m.seq)
      encoding.writeVarUint(e, m.resumed ? 1 : 0)
      break
    case 'changes':
      encoding.writeVarUint(e, m.round)
      encoding.writeVarUint(e, m.last ? 1 : 0)
      encoding.writeVarUint(e, m.seq)
      encoding.writeVarUint(e, m.entries.length)
      for (const entry of m.entries) {
        encoding.writeVarString(e, entry.doc)
        encoding.writeVarString(e, entry.digest)
        // 0 = live document; otherwise the deletion time + 1 (a delete at time 0 stays distinct).
        encoding.writeVarUint(e, entry.deletedAt === undefined ? 0 : entry.deletedAt + 1)
      }
      break
    case 'ack':
      encoding.writeVarString(e, m.doc)
      encoding.writeVarUint(e, m.n)
      encoding.writeVarUint(e, m.copies)
      break
    case 'checkpoint':
      encoding.writeVarUint(e, m.seq)
      break
    case 'refused':
      encoding.writeVarString(e, m.doc)
      encoding.writeVarUint(e, m.code)
      encoding.writeVarString(e, m.reason)
      break
    case 'deleted':
      encoding.writeVarString(e, m.doc)
      encoding.writeVarUint(e, m.at)
      break
    case 'keepalive':
      break
  }
  return encoding.toUint8Array(e)
}

function malformed(detail: string, cause?: unknown): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed session message: ${detail}`, { cause })
}

const uint = (d: decoding.Decoder) => readSafeVarUint(d, malformed)
const bytes = (d: decoding.Decoder) => readLengthPrefixed(d, malformed)
const count = (d: decoding.Decoder) => readCount(d, malformed)

function readPatterns(d: decoding.Decoder): string[] {
  const n = count(d)
  const patterns: string[] = []
  for (let i = 0; i < n; i++) patterns.push(decoding.readVarString(d))
  return patterns
}

/**
 * Decodes one session frame. Strict: unknown types, truncated payloads and trailing bytes raise
 * RhizomeError PROTOCOL_MALFORMED, never another error type.
 */
export function decodeSessionMessage(frame: Uint8Array): SessionMessage {
  const d = decoding.createDecoder(frame)
  let m: SessionMessage
  try {
    const tag = uint(d)
    switch (tag) {
      case tags.hello: {
        const version = uint(d)
        const storeId = decoding.readVarString(d)
        const seq = uint(d)
        m = {
          type: 'hello',
          version,
          checkpoint: storeId ? { storeId, seq } : null,
          patterns: readPatterns(d),
        }
        break
      }
      case tags.replicate:
        m = { type: 'replicate', patterns: readPatterns(d) }
        break
      case tags.open:
        m = { type: 'open', doc: decoding.readVarString(d) }
        break
      case tags.close:
        m = { type: 'close', doc: decoding.readVarString(d) }
        break
      case tags.delete:
        m = { type: 'delete', doc: decoding.readVarString(d) }
        break
      case tags.sync: {
        const doc = decoding.readVarString(d)
        const step = steps[uint(d)]
        if (step === undefined) throw malformed('unknown sync step')
        m = { type: 'sync', doc, step, payload: bytes(d) }
        break
      }
      case tags.awareness:
        m = { type: 'awareness', doc: decoding.readVarString(d), update: bytes(d) }
        break
      case tags.welcome:
        m = {
          type: 'welcome',
          version: uint(d),
          relayId: decoding.readVarString(d),
          storeId: decoding.readVarString(d),
          seq: uint(d),
          resumed: uint(d) === 1,
        }
        break
      case tags.changes: {
        const round = uint(d)
        const last = uint(d) === 1
        const seq = uint(d)
        const n = count(d)
        const entries: ChangeEntry[] = []
        for (let i = 0; i < n; i++) {
          const doc = decoding.readVarString(d)
          const digest = decoding.readVarString(d)
          const deleted = uint(d)
          entries.push(deleted === 0 ? { doc, digest } : { doc, digest, deletedAt: deleted - 1 })
        }
        m = { type: 'changes', round, last, seq, entries }
        break
      }
      case tags.ack:
        m = { type: 'ack', doc: decoding.readVarString(d), n: uint(d), copies: uint(d) }
        break
      case tags.checkpoint:
        m = { type: 'checkpoint', seq: uint(d) }
        break
      case tags.refused:
        m = {
          type: 'refused',
          doc: decoding.readVarString(d),
          code: uint(d),
          reason: decoding.readVarString(d),
        }
        break
      case tags.deleted:
        m = { type: 'deleted', doc: decoding.readVarString(d), at: uint(d) }
        break
      case tags.keepalive:
        m = { type: 'keepalive' }
        break
      default:
        throw malformed(`unknown message type ${tag}`)
    }
  } catch (err) {
    if (err instanceof RhizomeError) throw err
    throw malformed('truncated frame', err)
  }
  if (d.pos !== frame.length) throw malformed(`${frame.length - d.pos} trailing bytes`)
  return m
}
