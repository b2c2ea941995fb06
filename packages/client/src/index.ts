// The reconnect schedule lives in @rhizome/protocol (shared with the relay); re-exported so that
// apps configuring `openReplica({ backoff })` need only this package.
export {
  type Backoff,
  type BackoffOptions,
  backoffCeiling,
  createBackoff,
  DEFAULT_BACKOFF,
  fullJitterDelay,
} from '@rhizome/protocol'
// Errors, re-exported so that apps can tell failures apart by their stable `code` without a second
// dependency. `ErrorCode` is both the object of codes and the union type of them. The codes the
// client uses are listed in the README ("Errors").
export { ErrorCode, isRhizomeError, RhizomeError } from '@rhizome/protocol'
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
