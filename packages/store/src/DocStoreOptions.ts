/** Options of `DocStore.open`. */
export interface DocStoreOptions {
  /** Compact a document in the background once its log holds this many records. Default 500. */
  compactAfterUpdates?: number
  /** Compact a document in the background once its log holds this many payload bytes. Default 1 MiB. */
  compactAfterBytes?: number
  /** Metrics hook, called after each group commit with its duration, job count and distinct documents. */
  onCommit?: (info: { ms: number; ops: number; docs: number }) => void
  /**
   * Called with failures of background work (automatic compaction, digest write-back) that no caller
   * awaits. Default: `console.warn`. Corruption found there is also persisted as a repair marker.
   */
  onError?: (err: unknown) => void
  /** Meta records kept in memory (LRU). Default 10,000. */
  metaCacheSize?: number
  /**
   * Drop every cached digest and state vector at open, so each is recomputed from the records
   * themselves. For a database that was just repaired at the LevelDB level: records may have been
   * lost without a checksum noticing, and a cached digest would then claim state the store no
   * longer holds (anti-entropy would never re-fetch it).
   */
  distrustDigests?: boolean
  /**
   * How long each document's history is kept, in ms (docs/PROTOCOL.md section 9): exact for the
   * last 24 hours, per hour before. Default 30 days; 0 keeps none (compaction then
   * garbage-collects deleted content at once).
   */
  historyMs?: number
  /** The clock receive times and the history window are measured by (ms since the epoch). Default `Date.now`. */
  clock?: () => number
}
