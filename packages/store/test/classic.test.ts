import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { runChangeFeedConformance } from './changeFeedConformance.js'
import { runStoreConformance } from './conformance.js'
import { runScanConformance } from './scanConformance.js'
import { runTombstoneConformance } from './tombstoneConformance.js'

runStoreConformance('classic-level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-store-'))
  return { db: new ClassicLevel(dir), cleanup: () => rm(dir, { recursive: true, force: true }) }
})

runChangeFeedConformance('classic-level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-store-'))
  return { db: new ClassicLevel(dir), cleanup: () => rm(dir, { recursive: true, force: true }) }
})

runTombstoneConformance('classic-level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-store-'))
  return { db: new ClassicLevel(dir), cleanup: () => rm(dir, { recursive: true, force: true }) }
})

runScanConformance('classic-level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-store-'))
  return { db: new ClassicLevel(dir), cleanup: () => rm(dir, { recursive: true, force: true }) }
})
