export { type ChangeEvent, type ChangeHook, type ChangeOrigin, HTTP_ORIGIN } from './changes/changeOrigin.js'
export {
  type AuthenticateHook,
  type AuthenticateRequest,
  type Authorizer,
  createAuthorizer,
  type Grant,
} from './connections/Authorizer.js'
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
export { type RunningRelay, type StartRelayOptions, startRelay } from './startRelay.js'
export {
  signWebhookBody,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
} from './webhooks/webhookSignature.js'
