import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * Copying the files of a LevelDB database that a running process may be writing.
 *
 * LevelDB never changes a table file (`.ldb`/`.sst`) once written; it appends to the write-ahead
 * log (`.log`) and to the MANIFEST, and it changes the set of files only by creating new ones
 * (memtable flush, compaction, new log) and deleting obsolete ones. So a copy is
 * crash-consistent — exactly what the database would recover after a power cut at some instant —
 * when the set of files (and CURRENT) is the same before and after the copy: then no flush or
 * compaction ran in between, tables are complete, and the log and MANIFEST copies are prefixes
 * of the live files. A torn last log record is dropped by LevelDB's recovery when the copy is
 * opened; every write batch (one DocStore group commit) is one log record, so it is all or nothing.
 * If a file vanished mid-copy or the set changed, the copy is retried.
 */

/** Files a copy needs; `LOCK` and the info logs (`LOG`, `LOG.old`) are left out. */
function isDataFile(name: string): boolean {
  return name === 'CURRENT' || name.startsWith('MANIFEST-') || /^\d+\.(ldb|sst|log)$/.test(name)
}

/** Copy order: immutable tables first, then CURRENT and MANIFEST, then the logs they point into. */
function copyRank(name: string): number {
  if (/\.(ldb|sst)$/.test(name)) return 0
  if (name === 'CURRENT' || name.startsWith('MANIFEST-')) return 1
  return 2
}

async function listDataFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(isDataFile).sort()
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: string }).code === 'ENOENT'
}

/** Result of {@link copyLevelDir}. */
export interface LevelCopy {
  files: number
  attempts: number
}

/**
 * Copies the LevelDB database in `source` into the empty directory `target`, consistently even
 * while another process writes to it (see the module comment). `verify` may open the copy and
 * throw to reject it (for example when LevelDB reports missing files); the copy is then retried.
 * @throws RhizomeError USAGE when `source` is not a LevelDB directory, RELAY_UNAVAILABLE when no
 * stable copy could be taken within `attempts` tries (the database changed too often).
 */
export async function copyLevelDir(
  source: string,
  target: string,
  options: {
    attempts?: number
    verify?: (dir: string) => Promise<void>
    /** Called after each file copied (tests interleave writes with it). */
    onFileCopied?: (name: string, attempt: number) => Promise<void>
  } = {},
): Promise<LevelCopy> {
  const attempts = options.attempts ?? 25
  let lastProblem = ''
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let before: string[]
    let current: string
    try {
      before = await listDataFiles(source)
      current = await readFile(join(source, 'CURRENT'), 'utf8')
    } catch (err) {
      if (isNotFound(err)) {
        throw new RhizomeError(
          ErrorCode.USAGE,
          `--data ${source} is not a relay data directory (no LevelDB CURRENT)`,
        )
      }
      throw new RhizomeError(ErrorCode.USAGE, `--data ${source}: ${(err as Error).message}`, { cause: err })
    }
    if (!before.includes('CURRENT')) {
      throw new RhizomeError(
        ErrorCode.USAGE,
        `--data ${source} is not a relay data directory (no LevelDB CURRENT)`,
      )
    }
    await rm(target, { recursive: true, force: true })
    await mkdir(target, { recursive: true })
    let vanished = false
    for (const name of [...before].sort((a, b) => copyRank(a) - copyRank(b) || a.localeCompare(b))) {
      try {
        await copyFile(join(source, name), join(target, name))
        await options.onFileCopied?.(name, attempt)
      } catch (err) {
        if (!isNotFound(err)) throw err
        vanished = true
        lastProblem = `${name} vanished during the copy`
        break
      }
    }
    if (!vanished) {
      const after = await listDataFiles(source)
      const currentAfter = await readFile(join(source, 'CURRENT'), 'utf8').catch(() => '')
      if (after.join('\n') !== before.join('\n') || currentAfter !== current) {
        lastProblem = 'the database flushed or compacted during the copy'
      } else {
        try {
          await options.verify?.(target)
          return { files: before.length, attempts: attempt }
        } catch (err) {
          lastProblem = `the copy did not open: ${(err as Error).message}`
        }
      }
    }
    // Back off a little so a busy relay can finish its compaction.
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * attempt)))
  }
  throw new RhizomeError(
    ErrorCode.RELAY_UNAVAILABLE,
    `no consistent copy of ${source} after ${attempts} attempts (${lastProblem})`,
  )
}
