import { mkdir, readdir } from 'node:fs/promises'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import type { CommandSpec } from './args.js'
import { BackupReader, verifyBackup } from './backupFile.js'
import { Progress } from './progress.js'

/** `rhizome restore`: how it is called. */
export const RESTORE_SPEC: CommandSpec = {
  name: 'restore',
  usage: `Usage: rhizome restore --data DIR FILE

Writes the backup FILE (from rhizome backup) into DIR, which must not exist or be empty; a
non-empty DIR is refused so that restore can never overwrite a relay's data. The whole backup is
verified first (trailer, record count, CRC-32): a truncated or damaged file is refused before
anything is written. Then start a relay with --data DIR.

The restored store gets a new store identity: it holds the state of the backup, not whatever the
original relay stored later, so peers must not count it as the store they knew. Documents are
identical; the relay id is new unless you pass --id to the relay.

  --data DIR     new or empty directory for the relay's data

Exit status: 0 restored, 2 usage, non-empty DIR, damaged backup or I/O error.
`,
  options: { '--data': 'value' },
  positionals: { min: 1, max: 1, names: 'the backup FILE' },
}

/** Keys not restored: the store id (see RESTORE_SPEC). */
const SKIPPED_KEYS = new Set(['s:id'])
const BATCH_BYTES = 4 * 1024 * 1024
const BATCH_OPS = 10_000
const utf8 = new TextDecoder()

async function checkEmptyTarget(dir: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ENOENT') return
    throw new RhizomeError(ErrorCode.USAGE, `--data ${dir}: ${(err as Error).message}`, { cause: err })
  }
  if (entries.length > 0) {
    throw new RhizomeError(
      ErrorCode.USAGE,
      `--data ${dir} is not empty; restore writes only into a new or empty directory`,
    )
  }
}

/** Result of {@link restoreBackup}. */
export interface RestoreResult {
  records: number
  docs: number
  storeId: string
}

/**
 * Restores `file` into the new or empty directory `dataDir` (see RESTORE_SPEC).
 * @throws RhizomeError USAGE for a non-empty target or unreadable file, STORE_CORRUPT for a
 * truncated or damaged backup (nothing is written then).
 */
export async function restoreBackup(
  file: string,
  dataDir: string,
  options: { progress?: Progress } = {},
): Promise<RestoreResult> {
  await checkEmptyTarget(dataDir)
  const summary = await verifyBackup(file)
  options.progress?.setTotal(summary.records)
  // Checked again: the directory may have been filled while the backup was being verified.
  await checkEmptyTarget(dataDir)
  await mkdir(dataDir, { recursive: true })
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dataDir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  let records = 0
  const reader = await BackupReader.open(file)
  try {
    let batch = db.batch()
    let bytes = 0
    for await (const { key, value } of reader.records()) {
      options.progress?.advance()
      if (SKIPPED_KEYS.has(utf8.decode(key))) continue
      batch.put(key, value)
      records++
      bytes += key.length + value.length
      if (bytes >= BATCH_BYTES || batch.length >= BATCH_OPS) {
        await batch.write({ sync: true } as never)
        batch = db.batch()
        bytes = 0
      }
    }
    await batch.write({ sync: true } as never)
  } finally {
    await reader.close()
    if (db.status === 'open') await db.close()
  }
  // Opening the store once writes its new identity and checks that it is a store Rhizome can read.
  const store = await DocStore.open(new ClassicLevel<string, Uint8Array>(dataDir, { valueEncoding: 'view' }))
  const result = { records, docs: store.docCount, storeId: store.id }
  await store.close()
  return result
}

/** Runs `restore`; returns the exit status. */
export async function runRestore(
  file: string,
  dataDir: string,
  print: (line: string) => void,
): Promise<number> {
  const progress = new Progress('restore: records')
  try {
    const result = await restoreBackup(file, dataDir, { progress })
    progress.clear()
    print(
      `restored ${file} into ${dataDir}: ${result.docs} documents, ${result.records} records, new store id ${result.storeId}`,
    )
    return 0
  } finally {
    progress.clear()
  }
}
