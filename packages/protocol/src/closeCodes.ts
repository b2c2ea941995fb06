/** WebSocket close codes of docs/PROTOCOL.md section 4. */
export const CloseCode = {
  /** Relay shutting down; reconnect elsewhere. */
  GOING_AWAY: 1001,
  /** Malformed message or an update Yjs cannot apply. */
  MALFORMED: 4400,
  /** Missing, invalid or expired token. */
  UNAUTHORIZED: 4401,
  /** Token does not grant this document, or a write on a read-only token. */
  FORBIDDEN: 4403,
  /** The document was deleted (docs/PROTOCOL.md section 9). */
  DELETED: 4410,
  /** Message larger than `--max-message-bytes`. */
  TOO_LARGE: 4413,
  /** Rate limit exceeded. */
  RATE_LIMITED: 4429,
  /** Transient relay error (4500-4599); retry. */
  TRANSIENT: 4500,
} as const

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** True for close codes after which a client must not reconnect (4400-4499). */
export function isPermanentClose(code: number): boolean {
  return code >= 4400 && code <= 4499
}
