import { MemoryLevel } from 'memory-level'
import { runChangeFeedConformance } from './changeFeedConformance.js'
import { runStoreConformance } from './conformance.js'
import { runScanConformance } from './scanConformance.js'
import { runTombstoneConformance } from './tombstoneConformance.js'

runStoreConformance('memory-level', async () => ({
  db: new MemoryLevel(),
  cleanup: async () => {},
}))

runChangeFeedConformance('memory-level', async () => ({ db: new MemoryLevel(), cleanup: async () => {} }))

runTombstoneConformance('memory-level', async () => ({ db: new MemoryLevel(), cleanup: async () => {} }))

runScanConformance('memory-level', async () => ({ db: new MemoryLevel(), cleanup: async () => {} }))
