import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * The error for an authentic (or pre-handshake) mesh frame the peer got wrong: PROTOCOL_MALFORMED,
 * which closes the link with 4400 (docs/PROTOCOL.md section 4).
 */
export function malformedMesh(detail: string): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed mesh message: ${detail}`)
}
