// The reconnect schedule and the errors live in @rhizome/protocol (shared with the relay);
// re-exported so that apps configuring `openReplica({ backoff })` or telling failures apart by their
// stable `code` (`isRhizomeError(err, ErrorCode.TIMEOUT)`) need only this package. `ErrorCode` is
// both the object of codes and their union type; the codes the client uses are listed in the
// README ("Errors").
export {
  type Backoff,
  type BackoffOptions,
  backoffCeiling,
  createBackoff,
  DEFAULT_BACKOFF,
  ErrorCode,
  fullJitterDelay,
  isRhizomeError,
  RhizomeError,
} from '@rhizome/protocol'
export {
  DocHandle,
  type DocHandleEvents,
  type DocStatus,
  type RelayState,
  type RelayStatus,
  type WaitOptions,
} from './DocHandle.js'
export { combinedCopies, DurabilityTracker } from './DurabilityTracker.js'
export {
  RelaySession,
  type RelaySessionStatus,
  type SessionState,
  type SessionWelcome,
  type WebSocketClass,
} from './RelaySession.js'
export {
  openReplica,
  Replica,
  type ReplicaEvents,
  type ReplicaOptions,
  type ReplicatedOptions,
} from './Replica.js'
export type { ReplicaStatus } from './Replicator.js'
export type { TokenOption } from './tokenSource.js'
