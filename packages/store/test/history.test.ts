import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { runHistoryConformance } from './historyConformance.js'

runHistoryConformance('memory-level', async () => ({ db: new MemoryLevel(), cleanup: async () => {} }))

runHistoryConformance('classic-level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-history-'))
  return {
    // Uncompressed, so that a test can look for bytes in the files.
    db: new ClassicLevel(dir, { compression: false }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    files: async () => Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f)))),
  }
})
