import { CloseCode, ErrorCode, isPermanentClose, RhizomeError } from '@rhizome/protocol'
import { closeError } from './closeError.js'

/**
 * What a session does once the relay closed its socket (docs/PROTOCOL.md section 4), with the
 * error its status reports from then on:
 * - `refresh`: an expired token; fetch a fresh one and reconnect at once;
 * - `refuse`: a permanent close (4400-4499); no retry;
 * - `retry`: reconnect after the backoff.
 */
export interface CloseOutcome {
  next: 'refresh' | 'refuse' | 'retry'
  error: RhizomeError | undefined
}

/** Where the session stood when its socket closed. */
export interface CloseContext {
  /** The relay's base URL, for the error message. */
  url: string
  /** True when a 4401 may be answered with a fresh token (none was fetched after a 4401 yet). */
  refreshable: boolean
  /** The error the status reports now (a network error seen before the close, say). */
  error: RhizomeError | undefined
  /** True when the socket was `synced`: its loss is news, whatever error came before. */
  synced: boolean
}

/** Decides what close `code` (with `reason`) means for the session. Never throws. */
export function closeOutcome(code: number, reason: string, context: CloseContext): CloseOutcome {
  // Only a second 4401 (after a fresh token) is final.
  if (code === CloseCode.UNAUTHORIZED && context.refreshable)
    return { next: 'refresh', error: closeError(code, reason) }
  if (isPermanentClose(code)) return { next: 'refuse', error: closeError(code, reason) }
  if (code !== 1000 && code !== 1006) return { next: 'retry', error: closeError(code, reason) }
  if (context.error === undefined || context.synced) {
    const lost = new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `connection to ${context.url} lost (${code})`)
    return { next: 'retry', error: lost }
  }
  return { next: 'retry', error: context.error }
}
