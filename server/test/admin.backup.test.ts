import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { digestOfUpdate } from '@rhizome/protocol'
import { ClassicLevel } from 'classic-level'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { catalogDigests, DocWriter, killAdminRuns, runAdmin, writeText } from './adminSupport.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rhizome-admin-backup-'))
})
afterEach(killAdminRuns)
afterAll(async () => {
  await stopAllRelays()
  await rm(dir, { recursive: true, force: true })
})

/** Parses `rhizome inspect` output into name -> { bytes, status, digest } and the summary line. */
function parseInspect(stdout: string) {
  const lines = stdout.trim().split('\n')
  const summary = lines.pop()!
  const docs = new Map<string, { bytes: number; status: string; digest: string }>()
  for (const line of lines) {
    const [name, bytes, status, digest] = line.split('\t')
    docs.set(name!, { bytes: Number(bytes), status: status!, digest: digest! })
  }
  return { docs, summary }
}

describe('rhizome backup / restore / inspect', () => {
  it('backs up a running relay under writes; the restored relay serves every document with the backed-up digest', async () => {
    const relay = await startRelay()
    for (let i = 0; i < 20; i++) await writeText(relay.url, `static/${i}`, `document number ${i}`)
    const staticDigests = await catalogDigests(relay.httpUrl)

    // Writers append 0, 1, 2, ... to an array, each append acknowledged as durable before the next.
    const writers = await Promise.all([0, 1, 2].map((i) => DocWriter.open(relay.url, `live/${i}`)))
    const acked = [0, 0, 0]
    let writing = true
    const loops = writers.map(async (writer, i) => {
      while (writing) {
        const next = acked[i]!
        await writer.change((doc) => doc.getArray<number>('log').push([next]))
        acked[i] = next + 1
      }
    })
    while (acked.some((n) => n < 20)) await new Promise((r) => setTimeout(r, 20))
    const ackedBeforeBackup = [...acked]

    const file = join(dir, 'running.rzb')
    const backup = await runAdmin(['backup', '--data', relay.dataDir, '--out', file])
    const ackedAfterBackup = [...acked]
    writing = false
    await Promise.all(loops)
    for (const w of writers) w.close()
    expect(backup.stderr).toBe('')
    expect(backup.code).toBe(0)
    expect(backup.stdout.toString()).toMatch(/23 documents/)
    // The writes really were concurrent with the backup.
    expect(ackedAfterBackup.some((n, i) => n > ackedBeforeBackup[i]!)).toBe(true)

    const restoredDir = join(dir, 'restored')
    const restore = await runAdmin(['restore', '--data', restoredDir, file])
    expect(restore.code).toBe(0)
    expect(restore.stdout.toString()).toMatch(/23 documents/)

    const inspect = await runAdmin(['inspect', '--data', restoredDir])
    expect(inspect.code).toBe(0)
    const { docs, summary } = parseInspect(inspect.stdout.toString())
    expect(summary).toMatch(/^inspect: 23 documents, \d+ bytes, 0 corrupt$/)
    for (const [name, digest] of staticDigests) expect(docs.get(name)).toMatchObject({ status: 'ok', digest })

    const restored = await startRelay({ dataDir: restoredDir })
    const served = await catalogDigests(restored.httpUrl)
    expect([...served.keys()]).toEqual([...docs.keys()])
    for (const [name, info] of docs) expect(served.get(name)).toBe(info.digest)

    for (let i = 0; i < 3; i++) {
      const exported = await runAdmin(['export', restored.url, `live/${i}`])
      expect(exported.code).toBe(0)
      expect(digestOfUpdate(exported.stdout)).toBe(docs.get(`live/${i}`)!.digest)
      // Point in time: a gap-free prefix of the writes, holding everything acknowledged before it started.
      const doc = new Y.Doc()
      Y.applyUpdate(doc, exported.stdout)
      const log = doc.getArray<number>('log').toArray()
      expect(log).toEqual(log.map((_, k) => k))
      expect(log.length).toBeGreaterThanOrEqual(ackedBeforeBackup[i]!)
      expect(log.length).toBeLessThanOrEqual(ackedAfterBackup[i]! + 1)
    }
  })

  it('refuses a truncated or damaged backup and a non-empty target directory', async () => {
    const relay = await startRelay()
    for (let i = 0; i < 5; i++) await writeText(relay.url, `doc/${i}`, 'x'.repeat(1000))
    const file = join(dir, 'whole.rzb')
    expect((await runAdmin(['backup', '--data', relay.dataDir, '--out', file])).code).toBe(0)
    const size = (await stat(file)).size

    for (const cut of [size - 1, size - 12, Math.floor(size / 2), 10]) {
      const truncated = join(dir, `cut-${cut}.rzb`)
      await writeFile(truncated, (await readFile(file)).subarray(0, cut))
      const target = join(dir, `from-cut-${cut}`)
      const run = await runAdmin(['restore', '--data', target, truncated])
      expect(run.code, `restore of a backup cut at ${cut} of ${size} bytes`).toBe(2)
      expect(run.stderr).toMatch(/not a complete rhizome backup/)
      await expect(stat(target)).rejects.toThrow()
    }

    const flipped = await readFile(file)
    flipped[Math.floor(size / 2)]! ^= 0x40
    const damaged = join(dir, 'flipped.rzb')
    await writeFile(damaged, flipped)
    const run = await runAdmin(['restore', '--data', join(dir, 'from-flipped'), damaged])
    expect(run.code).toBe(2)

    const busy = join(dir, 'busy')
    await mkdir(busy)
    await writeFile(join(busy, 'something'), 'x')
    const refused = await runAdmin(['restore', '--data', busy, file])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/not empty/)
    expect(await readdir(busy)).toEqual(['something'])

    const empty = join(dir, 'empty-target')
    await mkdir(empty)
    expect((await runAdmin(['restore', '--data', empty, file])).code).toBe(0)

    // Appending bytes is damage too.
    await writeFile(damaged, Buffer.concat([await readFile(file), Buffer.from([0])]))
    expect((await runAdmin(['restore', '--data', join(dir, 'from-appended'), damaged])).code).toBe(2)
    await truncate(damaged, 0)
    expect((await runAdmin(['restore', '--data', join(dir, 'from-empty'), damaged])).code).toBe(2)
  })

  it('inspect reports corrupt records (exit 1), refuses a running relay (exit 2)', async () => {
    const relay = await startRelay()
    await writeText(relay.url, 'healthy', 'fine')
    await writeText(relay.url, 'victim', 'about to be damaged')
    const locked = await runAdmin(['inspect', '--data', relay.dataDir])
    expect(locked.code).toBe(2)
    expect(locked.stderr).toMatch(/in use by a running relay/)
    await relay.stop()

    const clean = await runAdmin(['inspect', '--data', relay.dataDir])
    expect(clean.code).toBe(0)
    expect(parseInspect(clean.stdout.toString()).summary).toMatch(/2 documents, \d+ bytes, 0 corrupt/)

    // Flip one payload byte of a stored record of `victim`, behind the store's back.
    const db = new ClassicLevel<string, Uint8Array>(relay.dataDir, { valueEncoding: 'view' })
    let damagedKey = ''
    for await (const [key, value] of db.iterator({ gte: 'd:victim\u0000', lt: 'd:victim\u0001' })) {
      const copy = value.slice()
      copy[copy.length - 1]! ^= 0x01
      await db.put(key, copy)
      damagedKey = key
      break
    }
    await db.close()
    expect(damagedKey).not.toBe('')

    const run = await runAdmin(['inspect', '--data', relay.dataDir])
    expect(run.code).toBe(1)
    const { docs, summary } = parseInspect(run.stdout.toString())
    expect(docs.get('victim')).toMatchObject({ status: 'corrupt', digest: '-' })
    expect(docs.get('healthy')).toMatchObject({ status: 'ok' })
    expect(summary).toMatch(/2 documents, \d+ bytes, 1 corrupt/)

    expect((await runAdmin(['inspect', '--data', join(dir, 'no-such-dir')])).code).toBe(2)
    expect((await runAdmin(['inspect'])).code).toBe(2)
  })
})
