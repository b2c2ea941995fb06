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
export { DocHandle, type DocHandleEvents, type DocStatus, type WaitOptions } from './DocHandle.js'
export { combinedCopies, DurabilityTracker } from './DurabilityTracker.js'
export { RelayConnection, type RelayState, type RelayStatus, type WebSocketClass } from './RelayConnection.js'
export { openReplica, Replica, type ReplicaOptions } from './Replica.js'
