export { CloseCode, isPermanentClose } from './closeCodes.js'
export { digestOfDoc, digestOfUpdate, toHex } from './digest.js'
export { docNameProblem, encodeDocName, isValidDocName, MAX_DOC_NAME_BYTES, parseDocName } from './docName.js'
export { closeCodeFor, ErrorCode, isRhizomeError, RhizomeError } from './errors.js'
export {
  decodeMeshMessage,
  encodeMeshMessage,
  MESH_PROTOCOL_VERSION,
  type MeshMessage,
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
export { accessAllows, docPatternMatches, grantsDoc, type TokenAccess, type TokenClaims } from './tokens.js'
