import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openReplica, type Replica } from '../src/index.js'

/** Teardown list of one test file: each resource registers its cleanup where it is created. */
export class Cleanup {
  private readonly tasks: Array<() => Promise<unknown>> = []

  add(task: () => Promise<unknown>): void {
    this.tasks.push(task)
  }

  async run(): Promise<void> {
    for (const task of this.tasks.splice(0).reverse()) await task().catch(() => {})
  }
}

/** A temp dir removed at cleanup. */
export async function tempDir(cleanup: Cleanup, prefix = 'rhizome-device-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.add(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A device replica with fast reconnects, closed at cleanup. */
export async function device(cleanup: Cleanup, relays: string[], storage?: string): Promise<Replica> {
  const replica = await openReplica({
    relays,
    storage: storage ?? (await tempDir(cleanup)),
    backoff: { initialMs: 50, maxMs: 400 },
  })
  cleanup.add(() => replica.close())
  return replica
}
