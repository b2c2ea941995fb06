export {
  type Backoff,
  type BackoffOptions,
  backoffCeiling,
  createBackoff,
  DEFAULT_BACKOFF,
  fullJitterDelay,
} from './backoff.js'
export { DocHandle, type DocHandleEvents, type DocStatus, type WaitOptions } from './DocHandle.js'
export { combinedCopies, DurabilityTracker } from './DurabilityTracker.js'
export { RelayConnection, type RelayState, type RelayStatus, type WebSocketClass } from './RelayConnection.js'
export { openReplica, Replica, type ReplicaOptions } from './Replica.js'
