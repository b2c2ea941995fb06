export { type AckSource, AckTracker } from './docs/AckTracker.js'
export { DocRegistry } from './docs/DocRegistry.js'
export { LOAD_ORIGIN, RelayDoc } from './docs/RelayDoc.js'
export { Mesh } from './mesh/Mesh.js'
export { PeerLink } from './mesh/PeerLink.js'
export {
  defaultRelayOptions,
  isLoopbackHost,
  parseRelayOptions,
  RELAY_USAGE,
  type RelayOptions,
} from './options.js'
export { Relay } from './Relay.js'
