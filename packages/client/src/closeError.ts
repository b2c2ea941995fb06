import { CloseCode, ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * The error a relay's close code stands for (docs/PROTOCOL.md section 4): 4401 AUTH_INVALID, 4403
 * AUTH_FORBIDDEN, 4400 PROTOCOL_MALFORMED, 4413 PROTOCOL_TOO_LARGE, 4429 RATE_LIMITED, anything
 * else (1001, 4500-4599, network) RELAY_UNAVAILABLE.
 */
export function closeError(code: number, reason: string): RhizomeError {
  const detail = `relay closed the connection with ${code}${reason ? `: ${reason}` : ''}`
  switch (code) {
    case CloseCode.UNAUTHORIZED:
      return new RhizomeError(ErrorCode.AUTH_INVALID, detail)
    case CloseCode.FORBIDDEN:
      return new RhizomeError(ErrorCode.AUTH_FORBIDDEN, detail)
    case CloseCode.MALFORMED:
      return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, detail)
    case CloseCode.TOO_LARGE:
      return new RhizomeError(ErrorCode.PROTOCOL_TOO_LARGE, detail)
    case CloseCode.RATE_LIMITED:
      return new RhizomeError(ErrorCode.RATE_LIMITED, detail)
    default:
      return new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, detail)
  }
}

/** The error of a `refused {doc, code, reason}` session message: the same mapping, for one document. */
export function refusalError(doc: string, code: number, reason: string): RhizomeError {
  const base = closeError(code, reason)
  return new RhizomeError(base.code, `relay refused ${doc} with ${code}${reason ? `: ${reason}` : ''}`)
}
