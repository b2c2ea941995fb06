import {
  ErrorCode,
  encodeSessionMessage,
  RhizomeError,
  SESSION_PROTOCOL_VERSION,
  type SessionCheckpoint,
  type SessionMessage,
} from '@rhizome/protocol'

/** What a session's `hello` carries besides the version: the checkpoint and patterns to resume. */
export interface SessionHello {
  checkpoint: SessionCheckpoint | null
  patterns: string[]
}

/** The `welcome` of a relay. */
export interface SessionWelcome {
  relayId: string
  storeId: string
  seq: number
  resumed: boolean
}

/** The encoded `hello` of this client's session protocol version (docs/PROTOCOL.md section 7.2). */
export function helloFrame(hello: SessionHello): Uint8Array {
  return encodeSessionMessage({
    type: 'hello',
    version: SESSION_PROTOCOL_VERSION,
    checkpoint: hello.checkpoint,
    patterns: hello.patterns,
  })
}

/**
 * The welcome in the relay's first message; a PROTOCOL_MALFORMED RhizomeError (returned, not
 * thrown) when it is anything else or another protocol version.
 */
export function readWelcome(message: SessionMessage): SessionWelcome | RhizomeError {
  if (message.type !== 'welcome' || message.version !== SESSION_PROTOCOL_VERSION) {
    return new RhizomeError(
      ErrorCode.PROTOCOL_MALFORMED,
      `expected welcome v${SESSION_PROTOCOL_VERSION}, got ${message.type}`,
    )
  }
  return { relayId: message.relayId, storeId: message.storeId, seq: message.seq, resumed: message.resumed }
}

/** The session endpoint of relay `base` (docs/PROTOCOL.md section 7.2), with the token if there is one. */
export function sessionUrl(base: string, token: string | undefined): string {
  const root = base.replace(/\/+$/, '')
  return `${root}/_session${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`
}
