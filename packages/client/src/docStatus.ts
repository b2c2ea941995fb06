import { RhizomeError } from '@rhizome/protocol'
import type { DocLink } from './DocLink.js'
import type { RelaySessionStatus } from './sessionStatus.js'

/**
 * Where one relay stands for one open document:
 * - `connecting` / `offline` / `duplicate`: the replica's session with that relay is in that state
 *   (after `replica.disconnect()`: `offline`, with `disconnected: true` in the {@link RelayStatus});
 * - `syncing`: the session is up; this document's state is being exchanged;
 * - `synced`: both sides exchanged their state; live updates flow;
 * - `refused`: the relay refused the session (4400-4499) or this document (4403).
 */
export type RelayState = 'connecting' | 'syncing' | 'synced' | 'offline' | 'refused' | 'duplicate'

/** One relay in a {@link DocStatus}. */
export interface RelayStatus {
  /** The relay's base URL as given to `openReplica`. */
  url: string
  /** Where this relay stands for the document; see {@link RelayState}. */
  state: RelayState
  /** Relay stores this relay says durably hold the whole local state (0: not known to hold it). */
  copies: number
  /** The last failure on this relay or of this document there; cleared once synced again. */
  error?: RhizomeError
  /** The close code of the last socket the relay closed, or the code the relay refused this document with. */
  closeCode?: number
  /** `true` while the app keeps the replica disconnected (`replica.disconnect()`); absent otherwise. */
  disconnected?: boolean
}

/** What `handle.on('status', ...)` reports: every relay, and the copies of the whole local state. */
export interface DocStatus {
  /** Every relay of the replica, in the order of `openReplica({ relays })`. */
  relays: RelayStatus[]
  /** Relay stores that durably hold the whole local replica right now (see {@link DocHandle.copies}). */
  copies: number
  /**
   * `true` once the relays deleted the document (docs/PROTOCOL.md sections 7.1 and 9): it left the
   * local store, edits on `doc` are neither stored nor sent, every relay reports `offline`. Absent
   * otherwise.
   */
  deleted?: boolean
}

/**
 * One relay's entry for a document: the document's link on that relay's session when it has one
 * (its state, copies at `localVersion`, refusal), else the session's own state (a welcomed
 * session without a link yet counts as `syncing`). `offline` forces `offline` (closed or deleted).
 */
export function relayStatus(
  session: RelaySessionStatus,
  link: DocLink | undefined,
  offline: boolean,
  localVersion: number,
): RelayStatus {
  let state: RelayState
  if (offline) state = 'offline'
  else if (link !== undefined) state = link.state
  else if (session.state === 'syncing' || session.state === 'synced') state = 'syncing'
  else state = session.state
  const s: RelayStatus = { url: session.url, state, copies: link?.tracker.copiesAt(localVersion) ?? 0 }
  const error = link?.error ?? session.error
  if (error !== undefined && error !== null) s.error = error
  if (link?.error) s.closeCode = link.refusedCode
  else if (session.closeCode !== undefined) s.closeCode = session.closeCode
  if (session.disconnected) s.disconnected = true
  return s
}

/** A key of `status` that changes exactly when a listener would see a different status. */
export function statusKey(status: DocStatus): string {
  return JSON.stringify(status, (_k, v) => (v instanceof RhizomeError ? `${v.code}:${v.message}` : v))
}
