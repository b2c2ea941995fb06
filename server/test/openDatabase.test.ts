import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../src/database/openDatabase.js'
import { damagedTables } from '../src/database/tableFooters.js'
import { createLogger } from '../src/logger.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

const log = createLogger('silent')
const tuning = { cacheBytes: 1024 * 1024, maxOpenFiles: 100 }

/** A closed LevelDB directory with enough data to hold table files (.ldb). */
async function databaseWithTables(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-db-'))
  dirs.push(dir)
  const db = new ClassicLevel<string, string>(dir)
  await db.open()
  for (let i = 0; i < 2000; i++) await db.put(`k${String(i).padStart(5, '0')}`, 'v'.repeat(500))
  await db.compactRange('k', 'l')
  await db.close()
  return dir
}

async function tables(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.ldb'))
}

describe('openDatabase', () => {
  it('finds a table file cut short by its footer, without reading the data', async () => {
    const dir = await databaseWithTables()
    const [table] = await tables(dir)
    expect(table).toBeDefined()
    expect(await damagedTables(dir)).toEqual([])
    const { size } = await stat(join(dir, table!))
    await truncate(join(dir, table!), Math.floor(size / 2))
    expect(await damagedTables(dir)).toEqual([table])
  })

  it('repairs a database with a torn table before serving, keeping the readable records', async () => {
    const dir = await databaseWithTables()
    const [table] = await tables(dir)
    const { size } = await stat(join(dir, table!))
    await truncate(join(dir, table!), Math.floor(size / 2))
    const { db, repaired } = await openDatabase(dir, log, tuning)
    try {
      expect(repaired).toBe(true)
      expect(await damagedTables(dir)).toEqual([])
      // Whatever is left reads without error: LevelDB no longer holds a damaged table.
      let read = 0
      for await (const _ of db.iterator()) read++
      expect(read).toBeLessThanOrEqual(2000)
    } finally {
      await db.close()
    }
  })

  it('repairs when a previous run left the repair marker, then clears it', async () => {
    const dir = await databaseWithTables()
    await writeFile(join(dir, 'REPAIR_NEEDED'), 'test\n')
    const first = await openDatabase(dir, log, tuning)
    expect(first.repaired).toBe(true)
    await first.db.close()
    const second = await openDatabase(dir, log, tuning)
    expect(second.repaired).toBe(false)
    await second.db.close()
  })

  it('opens a healthy database without repairing it', async () => {
    const dir = await databaseWithTables()
    const { db, repaired } = await openDatabase(dir, log, tuning)
    expect(repaired).toBe(false)
    expect(await db.get('k00007', { valueEncoding: 'utf8' })).toBe('v'.repeat(500))
    await db.close()
  })
})
