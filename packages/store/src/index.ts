export { CHECKSUM_BYTES, crc32, decodeChecked, encodeChecked } from './checksum.js'
export {
  type AppendOptions,
  type CatalogEntry,
  type ChangeRecord,
  DocStore,
  type DocStoreOptions,
  type ScrubPage,
} from './DocStore.js'
export { CommitQueue } from './groupCommit/CommitQueue.js'
