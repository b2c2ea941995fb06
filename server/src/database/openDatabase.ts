import { mkdir } from 'node:fs/promises'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import type { Logger } from '../logger.js'

/** The relay's LevelDB database, and whether LevelDB's repair had to run before it opened. */
export interface OpenedDatabase {
  db: ClassicLevel<string, Uint8Array>
  /** True when records may be gone without a checksum failing: cached digests must not be trusted. */
  repaired: boolean
}

function levelCodeOf(err: unknown): string | undefined {
  return (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code
}

async function openAndRead(dir: string): Promise<ClassicLevel<string, Uint8Array>> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  try {
    // LevelDB reports a damaged table only when it is read: read everything once, without
    // filling the block cache, so damage is found and repaired before anything is served.
    for await (const _ of db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer', fillCache: false })) {
    }
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  return db
}

/**
 * Opens (creating it if missing) the relay's LevelDB directory. A database LevelDB itself reports
 * as damaged (a torn or truncated table, a broken manifest) is repaired with LevelDB's own repair,
 * which keeps every readable record; what was lost comes back from the peers through anti-entropy.
 * @throws RhizomeError USAGE when another process holds the directory.
 */
export async function openDatabase(dir: string, log: Logger): Promise<OpenedDatabase> {
  await mkdir(dir, { recursive: true })
  try {
    return { db: await openAndRead(dir), repaired: false }
  } catch (err) {
    const code = levelCodeOf(err)
    if (code === 'LEVEL_LOCKED') {
      throw new RhizomeError(ErrorCode.USAGE, `--data ${dir} is in use by another relay`)
    }
    if (code !== 'LEVEL_CORRUPTION' && code !== 'LEVEL_IO_ERROR') throw err
    log.warn({ dir, err: (err as Error).cause ?? err }, 'database is damaged (corrupt); repairing it')
    await ClassicLevel.repair(dir)
    const db = await openAndRead(dir)
    log.warn({ dir }, 'database repaired; lost records will be refetched from peers')
    return { db, repaired: true }
  }
}
