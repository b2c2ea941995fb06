import {
  CloseCode,
  decodeSessionMessage,
  ErrorCode,
  RhizomeError,
  type SessionMessage,
} from '@rhizome/protocol'
import { closeError } from './closeError.js'
import { authDenial, frameBytes } from './frameBytes.js'

/**
 * A frame from the relay on the session socket, read:
 * - `message`: a session message (docs/PROTOCOL.md section 7.2);
 * - `denied`: the relay refused the token (an AUTH frame; it closes with 4401 next);
 * - `malformed`: anything else; the socket is to be given up.
 */
export type RelayFrame =
  | { kind: 'message'; message: SessionMessage }
  | { kind: 'denied'; error: RhizomeError }
  | { kind: 'malformed'; error: RhizomeError }

/**
 * Reads the data of a message event. Before the welcome (`welcomed` false) an AUTH
 * permission-denied frame is `denied`, not `malformed`. Never throws.
 */
export function readRelayFrame(data: unknown, welcomed: boolean): RelayFrame {
  const bytes = frameBytes(data)
  try {
    if (bytes === null) throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'text frame on a session')
    return { kind: 'message', message: decodeSessionMessage(bytes) }
  } catch (err) {
    const denied = !welcomed && bytes !== null ? authDenial(bytes) : null
    if (denied !== null) {
      // A refused token: the relay sends one AUTH frame (docs/PROTOCOL.md section 7.2), then closes with 4401.
      return {
        kind: 'denied',
        error: new RhizomeError(ErrorCode.AUTH_INVALID, `relay refused the token: ${denied}`),
      }
    }
    const error = err instanceof RhizomeError ? err : closeError(CloseCode.MALFORMED, 'undecodable frame')
    return { kind: 'malformed', error }
  }
}
