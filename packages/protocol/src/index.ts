export { type AwarenessEntry, decodeAwarenessEntries, encodeAwarenessEntries } from './awarenessEntries.js'
export {
  type Backoff,
  type BackoffOptions,
  backoffCeiling,
  backoffDelay,
  createBackoff,
  DEFAULT_BACKOFF,
  fullJitterDelay,
} from './backoff.js'
export { CloseCode, isPermanentClose } from './closeCodes.js'
export { corkUntilTick } from './corkUntilTick.js'
export { digestOfDoc, digestOfUpdate } from './digest.js'
export { docNameProblem, encodeDocName, isValidDocName, MAX_DOC_NAME_BYTES, parseDocName } from './docName.js'
export { EMPTY_STATE_VECTOR, EMPTY_UPDATE, isEmptyUpdate } from './emptyState.js'
export { closeCodeFor, ErrorCode, isRhizomeError, RhizomeError } from './errors.js'
export {
  chunkMeshFrame,
  decodeMeshMessage,
  encodeMeshMessage,
  MESH_CHUNK_BYTES,
  MESH_MAX_FRAME_BYTES,
  MESH_NONCE_BYTES,
  MESH_PROTOCOL_VERSION,
  type MeshDocRecords,
  type MeshMessage,
  type MeshRecord,
  type MeshTombstone,
} from './meshMessages.js'
export {
  decodeMessage,
  encodeAck,
  encodeAuthDenied,
  encodeAwareness,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type Message,
  MessageType,
  SyncStep,
} from './messages.js'
export {
  type ChangeEntry,
  DEVICE_SESSION_MESSAGES,
  decodeSessionMessage,
  encodeSessionMessage,
  SESSION_PROTOCOL_VERSION,
  type SessionCheckpoint,
  type SessionMessage,
  type SessionSyncStep,
} from './sessionMessages.js'
export {
  accessAllows,
  compileDocPattern,
  docPatternMatches,
  grantsDoc,
  type TokenAccess,
  type TokenClaims,
} from './tokens.js'
