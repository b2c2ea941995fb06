export { CHECKSUM_BYTES, crc32, decodeChecked, encodeChecked } from './checksum.js'
export {
  type AppendOptions,
  type CatalogEntry,
  type ChangeRecord,
  DocStore,
  type DocStoreOptions,
  type PurgeReport,
  type RestorePoint,
  type ScannedState,
  type ScrubPage,
  type TombstoneRecord,
} from './DocStore.js'
export { CommitQueue } from './groupCommit/CommitQueue.js'
export { DEFAULT_HISTORY_MS, EXACT_MS } from './history/historyWindow.js'
export { revertUpdate } from './history/revert.js'
export { tombstoneWins } from './Tombstones.js'
export type { AdoptOutcome } from './transfer/adoptDoc.js'
export { type Adoption, DocTransfer, EXPORT_BYTES } from './transfer/DocTransfer.js'
export type { ExportedDocs } from './transfer/exportDocs.js'
export { payloadsOf, type StoredDoc, type StoredRecord } from './transfer/storedDoc.js'
export { inspectWholeState, type WholeState } from './transfer/wholeState.js'
