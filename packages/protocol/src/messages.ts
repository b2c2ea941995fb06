import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ErrorCode, RhizomeError } from './errors.js'
import { readLengthPrefixed, readSafeVarUint } from './wireReads.js'

/** Top-level message types of docs/PROTOCOL.md section 3 (`varUint type` then payload). */
export const MessageType = {
  SYNC: 0,
  AWARENESS: 1,
  AUTH: 2,
  QUERY_AWARENESS: 3,
  ACK: 100,
} as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

/** Sub-types of a SYNC message, as y-protocols/sync numbers them. */
export const SyncStep = { STEP1: 0, STEP2: 1, UPDATE: 2 } as const
export type SyncStep = (typeof SyncStep)[keyof typeof SyncStep]

/** A decoded relay/client message. */
export type Message =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'auth-denied'; reason: string }
  | { type: 'query-awareness' }
  | { type: 'ack'; n: number; copies: number }

function encodeWith(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function encodeSync(step: SyncStep, payload: Uint8Array): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.SYNC)
    encoding.writeVarUint(e, step)
    encoding.writeVarUint8Array(e, payload)
  })
}

/** SYNC step1: the sender's state vector. */
export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeSync(SyncStep.STEP1, stateVector)
}

/** SYNC step2: the update that answers a step1. */
export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeSync(SyncStep.STEP2, update)
}

/** SYNC update: a live incremental update. */
export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
  return encodeSync(SyncStep.UPDATE, update)
}

/** AWARENESS: a y-protocols/awareness update. */
export function encodeAwareness(update: Uint8Array): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.AWARENESS)
    encoding.writeVarUint8Array(e, update)
  })
}

/** AUTH permission-denied with a reason, sent before a 44xx close. */
export function encodeAuthDenied(reason: string): Uint8Array {
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.AUTH)
    encoding.writeVarUint(e, 0) // y-protocols/auth messagePermissionDenied
    encoding.writeVarString(e, reason)
  })
}

/** QUERY_AWARENESS: asks the relay for every awareness state of the document. */
export function encodeQueryAwareness(): Uint8Array {
  return encodeWith((e) => encoding.writeVarUint(e, MessageType.QUERY_AWARENESS))
}

/** ACK(n, copies): see docs/PROTOCOL.md section 3. */
export function encodeAck(n: number, copies: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(copies) || copies < 0) {
    throw new TypeError(`ACK needs non-negative integers, got n=${n} copies=${copies}`)
  }
  return encodeWith((e) => {
    encoding.writeVarUint(e, MessageType.ACK)
    encoding.writeVarUint(e, n)
    encoding.writeVarUint(e, copies)
  })
}

function malformed(detail: string, cause?: unknown): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed message: ${detail}`, { cause })
}

const readSafe = (d: decoding.Decoder) => readSafeVarUint(d, malformed)
const readBytes = (d: decoding.Decoder) => readLengthPrefixed(d, malformed)

/**
 * Decodes one frame. Strict: unknown types, truncated payloads and trailing bytes all raise
 * `RhizomeError` with code PROTOCOL_MALFORMED, never another error type.
 */
export function decodeMessage(frame: Uint8Array): Message {
  const d = decoding.createDecoder(frame)
  let message: Message
  try {
    const type = readSafe(d)
    switch (type) {
      case MessageType.SYNC: {
        const step = readSafe(d)
        const payload = readBytes(d)
        if (step === SyncStep.STEP1) message = { type: 'sync-step1', stateVector: payload }
        else if (step === SyncStep.STEP2) message = { type: 'sync-step2', update: payload }
        else if (step === SyncStep.UPDATE) message = { type: 'sync-update', update: payload }
        else throw malformed(`unknown sync step ${step}`)
        break
      }
      case MessageType.AWARENESS:
        message = { type: 'awareness', update: readBytes(d) }
        break
      case MessageType.AUTH: {
        const kind = readSafe(d)
        if (kind !== 0) throw malformed(`unknown auth message ${kind}`)
        message = { type: 'auth-denied', reason: decoding.readVarString(d) }
        break
      }
      case MessageType.QUERY_AWARENESS:
        message = { type: 'query-awareness' }
        break
      case MessageType.ACK:
        message = { type: 'ack', n: readSafe(d), copies: readSafe(d) }
        break
      default:
        throw malformed(`unknown message type ${type}`)
    }
  } catch (err) {
    if (err instanceof RhizomeError) throw err
    throw malformed('truncated frame', err)
  }
  if (d.pos !== frame.length) throw malformed(`${frame.length - d.pos} trailing bytes`)
  return message
}
