import { mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { decodeChecked } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import type { CommandSpec } from './args.js'
import { BackupWriter } from './backupFile.js'
import { copyLevelDir } from './levelCopy.js'
import { Progress } from './progress.js'

/** `rhizome backup`: how it is called. */
export const BACKUP_SPEC: CommandSpec = {
  name: 'backup',
  usage: `Usage: rhizome backup --data DIR --out FILE [--tmp DIR]

Writes a consistent point-in-time copy of the relay data directory DIR to FILE, also while a
relay is running on DIR. The database files are copied into a temporary directory (retried if
the relay flushes or compacts meanwhile), the copy is opened (LevelDB replays its log and drops
a torn last write) and its records are written to FILE in the rhizome backup format: a header,
every record with the store's own checksums, and a trailer with a CRC-32 of the whole file, so
that a truncated or damaged backup is refused by restore. FILE appears only when complete.

  --data DIR     the relay's data directory (its --data)
  --out FILE     the backup file to write
  --tmp DIR      where to put the temporary copy (default: the system temp directory)

Exit status: 0 written, 2 usage or I/O error.
`,
  options: { '--data': 'value', '--out': 'value', '--tmp': 'value' },
  positionals: { min: 0, max: 0, names: 'no arguments besides --data and --out' },
}

const STORE_ID_KEY = 's:id'
const META_PREFIX = 'm:'
const utf8 = new TextDecoder()

function rawLevel(dir: string): ClassicLevel<Uint8Array, Uint8Array> {
  return new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: false,
  })
}

/** Result of {@link backupDataDir}. */
export interface BackupResult {
  docs: number
  records: number
  fileBytes: number
  storeId: string | null
  attempts: number
}

/**
 * Backs up the relay data directory `dataDir` into `out` (see BACKUP_SPEC).
 * @throws RhizomeError USAGE when `dataDir` is not a relay data directory or `out` cannot be
 * written, RELAY_UNAVAILABLE when no stable copy could be taken.
 */
export async function backupDataDir(
  dataDir: string,
  out: string,
  options: { tmp?: string; progress?: Progress } = {},
): Promise<BackupResult> {
  const source = resolve(dataDir)
  try {
    if (!(await stat(source)).isDirectory()) throw new Error('not a directory')
  } catch (err) {
    throw new RhizomeError(ErrorCode.USAGE, `--data ${dataDir}: ${(err as Error).message}`, { cause: err })
  }
  const work = await mkdtemp(join(options.tmp ?? tmpdir(), 'rhizome-backup-'))
  const copyDir = join(work, 'db')
  const partial = join(dirname(resolve(out)), `.${basename(out)}.partial`)
  let writer: BackupWriter | null = null
  try {
    const copy = await copyLevelDir(source, copyDir, {
      verify: async (dir) => {
        const db = rawLevel(dir)
        await db.open()
        await db.close()
      },
    })
    const db = rawLevel(copyDir)
    await db.open()
    try {
      const rawId = await db.get(new TextEncoder().encode(STORE_ID_KEY))
      const idPayload = rawId === undefined ? null : decodeChecked(STORE_ID_KEY, rawId)
      const storeId = idPayload === null ? null : utf8.decode(idPayload)
      try {
        writer = await BackupWriter.create(partial, {
          format: 'rhizome-backup',
          version: 1,
          createdAt: new Date().toISOString(),
          source,
          storeId,
        })
      } catch (err) {
        throw new RhizomeError(ErrorCode.USAGE, `--out ${out}: ${(err as Error).message}`, { cause: err })
      }
      let docs = 0
      const metaPrefix = new TextEncoder().encode(META_PREFIX)
      for await (const [key, value] of db.iterator()) {
        if (key.length > 2 && key[0] === metaPrefix[0] && key[1] === metaPrefix[1]) docs++
        await writer.write(key, value)
        options.progress?.advance()
      }
      const written = await writer.finish()
      writer = null
      await rename(partial, out)
      return {
        docs,
        records: written.records,
        fileBytes: written.fileBytes,
        storeId,
        attempts: copy.attempts,
      }
    } finally {
      await db.close()
    }
  } finally {
    await writer?.abort()
    await rm(partial, { force: true })
    await rm(work, { recursive: true, force: true })
  }
}

/** Runs `backup`; returns the exit status. */
export async function runBackup(
  dataDir: string,
  out: string,
  options: { tmp?: string },
  print: (line: string) => void,
): Promise<number> {
  const progress = new Progress('backup: records')
  try {
    const result = await backupDataDir(dataDir, out, { ...options, progress })
    progress.clear()
    print(
      `backup of ${dataDir} written to ${out}: ${result.docs} documents, ${result.records} records, ${result.fileBytes} bytes`,
    )
    return 0
  } finally {
    progress.clear()
  }
}
