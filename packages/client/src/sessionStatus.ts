import type { RhizomeError } from '@rhizome/protocol'

/**
 * Where the session with one relay URL stands:
 * - `connecting`: a socket is being opened;
 * - `syncing`: the relay welcomed the session; its listing (round) is being worked through;
 * - `synced`: every round is complete; live updates flow;
 * - `offline`: no socket; a retry is scheduled (capped exponential backoff with full jitter);
 * - `refused`: the relay closed with 4400-4499 (a 4401 only once a fresh token was refused too); no retry;
 * - `duplicate`: this URL reaches a relay (same relay id) another URL of the replica is already
 *   connected to; the session was closed and is retried only if that other session goes down.
 * After `replica.disconnect()` the state is `offline` with `disconnected: true` in the status (no
 * retry until `replica.connect()`): a flag, not one more state, so that apps mapping every state
 * (`Record<SessionState, ...>`) keep compiling.
 */
export type SessionState = 'connecting' | 'syncing' | 'synced' | 'offline' | 'refused' | 'duplicate'

/** One relay in `replica.status` (docs/PROTOCOL.md section 7.1). */
export interface RelaySessionStatus {
  /** The relay's base URL as given to `openReplica`. */
  url: string
  /** The relay id from its `welcome`; `null` until one arrived. */
  id: string | null
  state: SessionState
  /** The last failure (close code, network error, token function); cleared once synced again. */
  error?: RhizomeError
  /** The close code of the last socket the relay closed, when it gave one. */
  closeCode?: number
  /** `true` while the app keeps the replica disconnected (`replica.disconnect()`); absent otherwise. */
  disconnected?: boolean
}
