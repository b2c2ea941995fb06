export { type AckSource, AckTracker } from './AckTracker.js'
export { backoffDelay } from './backoff.js'
export { Mesh } from './Mesh.js'
export {
  defaultRelayOptions,
  isLoopbackHost,
  parseRelayOptions,
  RELAY_USAGE,
  type RelayOptions,
} from './options.js'
export { PeerLink } from './PeerLink.js'
export { Relay } from './Relay.js'
export { LOAD_ORIGIN, RelayDoc } from './RelayDoc.js'
