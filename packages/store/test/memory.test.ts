import { MemoryLevel } from 'memory-level'
import { runStoreConformance } from './conformance.js'

runStoreConformance('memory-level', async () => ({
  db: new MemoryLevel(),
  cleanup: async () => {},
}))
