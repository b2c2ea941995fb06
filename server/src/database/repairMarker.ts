import { rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** File in a relay's data directory that asks the next start to repair the database first. */
const MARKER = 'REPAIR_NEEDED'

/**
 * Records that the database is damaged at the LevelDB level (found while serving, when LevelDB
 * itself cannot be repaired in place): the next start runs LevelDB's repair before it serves.
 */
export async function markRepairNeeded(dir: string, reason: string): Promise<void> {
  await writeFile(join(dir, MARKER), `${new Date().toISOString()} ${reason}\n`)
}

/** True when a previous run marked the database for repair. */
export async function repairNeeded(dir: string): Promise<boolean> {
  try {
    await stat(join(dir, MARKER))
    return true
  } catch {
    return false
  }
}

/** Clears the marker after a repair. */
export async function clearRepairNeeded(dir: string): Promise<void> {
  await rm(join(dir, MARKER), { force: true })
}
