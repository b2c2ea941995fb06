import { DocStore } from '@rhizome/store'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import type { RelayOptions } from '../options.js'
import { openDatabase } from './openDatabase.js'

/**
 * Opens the relay's document store over its LevelDB directory (repairing a damaged database
 * first), with the relay's history window and LevelDB settings.
 * @throws RhizomeError USAGE for a data directory in use.
 */
export async function openStore(
  options: Pick<RelayOptions, 'dataDir' | 'dbCacheBytes' | 'dbMaxOpenFiles' | 'historyMs'>,
  log: Logger,
  metrics: RelayMetrics,
): Promise<DocStore> {
  const { db, repaired } = await openDatabase(options.dataDir, log, {
    cacheBytes: options.dbCacheBytes,
    maxOpenFiles: options.dbMaxOpenFiles,
  })
  return DocStore.open(db, {
    historyMs: options.historyMs,
    onCommit: ({ ms }) => metrics.commitSeconds.observe(ms / 1000),
    onError: (err) => log.warn({ err }, 'background store work failed'),
    // After a LevelDB-level repair, records may be gone without a checksum failing: recompute
    // every digest so anti-entropy re-fetches whatever was lost.
    distrustDigests: repaired,
  })
}
