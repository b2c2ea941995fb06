import { mkdir } from 'node:fs/promises'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import type { Logger } from '../logger.js'
import { clearRepairNeeded, repairNeeded } from './repairMarker.js'
import { damagedTables } from './tableFooters.js'

/** The relay's LevelDB database, and whether LevelDB's repair had to run before it opened. */
export interface OpenedDatabase {
  db: ClassicLevel<string, Uint8Array>
  /** True when records may be gone without a checksum failing: cached digests must not be trusted. */
  repaired: boolean
}

/** LevelDB settings an operator may trade (memory against read speed). */
export interface DatabaseTuning {
  /** LevelDB block cache, bytes. */
  cacheBytes: number
  /** Files LevelDB keeps open (and, for tables, memory-mapped); LevelDB raises it to at least 74. */
  maxOpenFiles: number
}

function levelCodeOf(err: unknown): string | undefined {
  return (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code
}

/**
 * Opens (creating it if missing) the relay's LevelDB directory without reading its data: integrity
 * is checked by reads and by the background scrubber, so start-up does not grow with the data.
 * Before opening, two cheap checks decide whether LevelDB's own repair (which keeps every readable
 * record; what was lost comes back from the peers through anti-entropy) must run first: a table
 * file whose footer is gone (cut short), or a repair marker left by a run that found damage. A
 * database LevelDB refuses to open as corrupt is repaired the same way.
 * @throws RhizomeError USAGE when another process holds the directory.
 */
export async function openDatabase(
  dir: string,
  log: Logger,
  tuning: DatabaseTuning,
): Promise<OpenedDatabase> {
  await mkdir(dir, { recursive: true })
  const open = async () => {
    const db = new ClassicLevel<string, Uint8Array>(dir, {
      valueEncoding: 'view',
      cacheSize: tuning.cacheBytes,
      maxOpenFiles: tuning.maxOpenFiles,
    })
    await db.open()
    return db
  }
  const repair = async (why: string, err?: unknown) => {
    log.warn({ dir, why, err }, 'database is damaged (corrupt); repairing it')
    await ClassicLevel.repair(dir)
    await clearRepairNeeded(dir)
    const db = await open()
    log.warn({ dir }, 'database repaired; lost records will be refetched from peers')
    return { db, repaired: true }
  }
  let db: ClassicLevel<string, Uint8Array>
  try {
    db = await open()
  } catch (err) {
    const code = levelCodeOf(err)
    if (code === 'LEVEL_LOCKED') {
      throw new RhizomeError(ErrorCode.USAGE, `--data ${dir} is in use by another relay`)
    }
    if (code !== 'LEVEL_CORRUPTION' && code !== 'LEVEL_IO_ERROR') throw err
    return repair('LevelDB refused to open it', (err as Error).cause ?? err)
  }
  // Checked while holding LevelDB's lock, so no other relay is writing these files.
  const torn = await damagedTables(dir)
  const marked = await repairNeeded(dir)
  if (torn.length === 0 && !marked) return { db, repaired: false }
  await db.close()
  return repair(
    torn.length > 0
      ? `table files without a valid footer: ${torn.join(', ')}`
      : 'a previous run found damaged tables',
  )
}
