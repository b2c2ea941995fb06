import { digestOfDoc } from '@rhizome/protocol'
import * as Y from 'yjs'
import type { CompactionHistory } from '../Compactor.js'
import { encodeChecked } from '../checksum.js'
import type { StagedBatch } from '../groupCommit/StagedBatch.js'
import { docRange } from '../keys.js'
import type { DocRecords } from '../records.js'
import type { Merged } from '../yjsMerge.js'
import { encodeEffects } from './effectChunk.js'
import type { HistoryIndex } from './HistoryIndex.js'
import { exactChunkKey } from './historyKeys.js'
import { historyDoc } from './stateAt.js'
import { applyTimedLogs, timedLogs } from './timedLogs.js'

/**
 * Compaction that keeps history: a slice of the log is merged into the snapshot without garbage
 * collection (content deleted inside the window stays, for reconstruction and revert), and the
 * effect of each receive millisecond of the slice goes into one exact chunk of the history index,
 * written in the same batch as the snapshot. The change seq is left alone: compaction changes
 * no content. Content deleted before the window is collected later, by `HistoryPurge`.
 */
export class HistoryCompaction implements CompactionHistory {
  readonly #index: HistoryIndex

  constructor(index: HistoryIndex) {
    this.#index = index
  }

  /** Reads the latest time in the index, which the slice's times continue from. */
  async prepare(
    name: string,
  ): Promise<{ merge(records: DocRecords): Merged; stage(batch: StagedBatch): void }> {
    const lastTime = await this.#index.lastTime(name)
    let chunk: { key: string; value: Uint8Array } | null = null
    return {
      merge: (records) => {
        const doc = historyDoc()
        try {
          Y.transact(doc, () => {
            if (records.snapshot) Y.applyUpdate(doc, records.snapshot)
          })
          const effects = applyTimedLogs(doc, timedLogs(name, records, lastTime))
          const first = effects[0]
          const firstKey = records.logKeys[0]
          if (first !== undefined && firstKey !== undefined) {
            // The first log key's tail (session, counter) is unique: no other chunk starts with that record.
            const tail = firstKey.slice(docRange(name).gte.length + 1)
            const key = exactChunkKey(name, first.time, effects.at(-1)!.time, tail)
            chunk = { key, value: encodeChecked(key, encodeEffects(effects)) }
          }
          return {
            snapshot: Y.encodeStateAsUpdate(doc),
            digest: digestOfDoc(doc),
            stateVector: Y.encodeStateVector(doc),
          }
        } finally {
          doc.destroy()
        }
      },
      stage: (batch) => {
        if (chunk !== null) batch.put(chunk.key, chunk.value)
      },
    }
  }
}
