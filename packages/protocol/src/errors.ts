import { CloseCode } from './closeCodes.js'

/**
 * Stable error codes. Messages may change between releases; these strings may not.
 * Each code that can reach a socket maps to exactly one close code (see {@link closeCodeFor}).
 */
export const ErrorCode = {
  /** A frame or update that cannot be decoded or applied. Close 4400. */
  PROTOCOL_MALFORMED: 'PROTOCOL_MALFORMED',
  /** A frame larger than the configured limit. Close 4413. */
  PROTOCOL_TOO_LARGE: 'PROTOCOL_TOO_LARGE',
  /** A document name outside the rules of docs/PROTOCOL.md section 2. HTTP 400 at upgrade. */
  DOC_NAME_INVALID: 'DOC_NAME_INVALID',
  /** Missing, invalid or expired token. Close 4401. */
  AUTH_INVALID: 'AUTH_INVALID',
  /** The token does not grant this document or this kind of access. Close 4403. */
  AUTH_FORBIDDEN: 'AUTH_FORBIDDEN',
  /** A rate or resource limit was exceeded. Close 4429. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A stored record failed its checksum; the document needs repair from a peer. */
  STORE_CORRUPT: 'STORE_CORRUPT',
  /** The store was used after close. */
  STORE_CLOSED: 'STORE_CLOSED',
  /**
   * A moment outside a document's history window (older than `--history-ms`, or in the future;
   * docs/PROTOCOL.md section 9). Never closes a socket; HTTP 404 (no such state is kept).
   */
  HISTORY_UNAVAILABLE: 'HISTORY_UNAVAILABLE',
  /** The document was deleted (a tombstone, docs/PROTOCOL.md section 9). Close 4410, HTTP 410. */
  DOC_DELETED: 'DOC_DELETED',
  /** A transient relay failure; the client should retry. Close 4500. */
  RELAY_UNAVAILABLE: 'RELAY_UNAVAILABLE',
  /** A wait (for example `whenDurable`) passed its deadline. */
  TIMEOUT: 'TIMEOUT',
  /** A command-line option or argument is wrong. Exit code 2. */
  USAGE: 'USAGE',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** The one error class Rhizome throws for operational failures. Programmer mistakes are `TypeError`s. */
export class RhizomeError extends Error {
  override readonly name = 'RhizomeError'
  readonly code: ErrorCode
  /** For STORE_CORRUPT: the affected document. */
  readonly doc?: string

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; doc?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    if (options.doc !== undefined) this.doc = options.doc
  }
}

/** True when `err` is a {@link RhizomeError}, optionally with the given code. */
export function isRhizomeError(err: unknown, code?: ErrorCode): err is RhizomeError {
  return err instanceof RhizomeError && (code === undefined || err.code === code)
}

const closeCodes: Partial<Record<ErrorCode, CloseCode>> = {
  PROTOCOL_MALFORMED: CloseCode.MALFORMED,
  PROTOCOL_TOO_LARGE: CloseCode.TOO_LARGE,
  AUTH_INVALID: CloseCode.UNAUTHORIZED,
  AUTH_FORBIDDEN: CloseCode.FORBIDDEN,
  RATE_LIMITED: CloseCode.RATE_LIMITED,
  DOC_DELETED: CloseCode.DELETED,
}

/** The WebSocket close code a socket is closed with when `err` ends it. Unknown failures are transient (4500). */
export function closeCodeFor(err: unknown): CloseCode {
  if (err instanceof RhizomeError) return closeCodes[err.code] ?? CloseCode.TRANSIENT
  return CloseCode.TRANSIENT
}
