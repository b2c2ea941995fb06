import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCommandArgs } from '../src/admin/args.js'
import { BackupReader, BackupWriter, verifyBackup } from '../src/admin/backupFile.js'
import { compareNames } from '../src/admin/catalog.js'
import { copyLevelDir } from '../src/admin/levelCopy.js'
import { docSocketUrl, parseRelayUrl } from '../src/admin/relayUrl.js'
import { formatDivergence } from '../src/admin/verify.js'
import { killAdminRuns, runAdmin } from './adminSupport.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rhizome-admin-units-'))
})
afterAll(async () => {
  killAdminRuns()
  await rm(dir, { recursive: true, force: true })
})

const spec = {
  name: 'demo',
  usage: 'usage',
  options: { '--token': 'value', '--out': 'value', '--force': 'flag' } as const,
  positionals: { min: 1, max: 2, names: 'A [B]' },
}

describe('admin argument parsing', () => {
  it('accepts options anywhere, --name=value, flags and -- before a name starting with a dash', () => {
    const args = parseCommandArgs(['a', '--token', 'T', '--out=f', '--force'], spec)
    expect(args.positionals).toEqual(['a'])
    expect(args.options.get('token')).toBe('T')
    expect(args.options.get('out')).toBe('f')
    expect(args.options.get('force')).toBe(true)
    expect(parseCommandArgs(['--token', 'T', 'a', '--', '-b'], spec).positionals).toEqual(['a', '-b'])
    expect(parseCommandArgs(['--help'], spec).help).toBe(true)
  })

  it('refuses unknown options, missing values, values on flags and wrong positional counts', () => {
    expect(() => parseCommandArgs(['a', '--nope'], spec)).toThrow(/unknown option '--nope'/)
    expect(() => parseCommandArgs(['a', '--token'], spec)).toThrow(/--token needs a value/)
    expect(() => parseCommandArgs(['a', '--token', '--out', 'x'], spec)).toThrow(/--token needs a value/)
    expect(() => parseCommandArgs(['a', '--force=1'], spec)).toThrow(/takes no value/)
    expect(() => parseCommandArgs([], spec)).toThrow(/expected A \[B\]/)
    expect(() => parseCommandArgs(['a', 'b', 'c'], spec)).toThrow(/expected A \[B\]/)
  })

  it('maps ws/http/wss/https base URLs to both forms and builds document socket URLs', () => {
    expect(parseRelayUrl('ws://h:1')).toMatchObject({ http: 'http://h:1', ws: 'ws://h:1' })
    expect(parseRelayUrl('http://h:1/')).toMatchObject({ http: 'http://h:1', ws: 'ws://h:1' })
    expect(parseRelayUrl('wss://h')).toMatchObject({ http: 'https://h', ws: 'wss://h' })
    expect(parseRelayUrl('https://h:8443/rhizome/')).toMatchObject({
      http: 'https://h:8443/rhizome',
      ws: 'wss://h:8443/rhizome',
    })
    expect(() => parseRelayUrl('ftp://h')).toThrow(/ws:\/\/, wss:\/\/, http:\/\/ or https:\/\//)
    expect(() => parseRelayUrl('ws://h:1/?token=x')).toThrow(/without query/)
    expect(() => parseRelayUrl('localhost:4440')).toThrow()
    expect(docSocketUrl(parseRelayUrl('http://h:1'), 'a b/c', 't&k')).toBe(
      'ws://h:1/a%20b/c?rhizome=1&token=t%26k',
    )
  })

  it('orders names by UTF-8 bytes like the store, and groups relays in divergence lines', () => {
    expect(compareNames('a', 'b')).toBeLessThan(0)
    expect(compareNames('a/b', 'a-b')).toBeGreaterThan(0)
    expect(compareNames('\uffff', '\u{10000}')).toBeLessThan(0) // UTF-16 order says the opposite
    const relays = ['ws://a', 'ws://b', 'ws://c'].map(parseRelayUrl)
    const line = formatDivergence(
      {
        name: 'doc',
        states: [
          { kind: 'digest', digest: 'ab'.repeat(32) },
          { kind: 'missing' },
          { kind: 'digest', digest: 'ab'.repeat(32) },
        ],
      },
      relays,
    )
    expect(line).toBe(`diverged doc  ws://a,ws://c=${'ab'.repeat(6)}  ws://b=missing`)
  })

  it('prints usage for --help of every command and exits 2 with one line on bad usage', async () => {
    const top = await runAdmin(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout.toString()).toMatch(/^Usage: rhizome COMMAND/)
    for (const command of ['verify', 'export', 'import', 'backup', 'restore', 'inspect']) {
      const help = await runAdmin([command, '--help'])
      expect(help.code, command).toBe(0)
      expect(help.stdout.toString()).toMatch(new RegExp(`^Usage: rhizome ${command}`))
      expect(help.stdout.toString()).toMatch(/Exit status/)
    }
    for (const argv of [
      [],
      ['frobnicate'],
      ['backup', '--data', dir],
      ['restore', 'file'],
      ['verify', '--x'],
    ]) {
      const run = await runAdmin(argv)
      expect(run.code, argv.join(' ')).toBe(2)
      expect(run.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1)
      expect(run.stdout.length).toBe(0)
    }
  })
})

describe('backup file format', () => {
  it('round-trips records, header and totals; a writer without finish is not a backup', async () => {
    const file = join(dir, 'roundtrip.rzb')
    const header = {
      format: 'rhizome-backup' as const,
      version: 1 as const,
      createdAt: new Date(0).toISOString(),
      source: '/data',
      storeId: 'abc',
    }
    const records: { key: Uint8Array; value: Uint8Array }[] = [
      { key: new TextEncoder().encode('m:doc'), value: new Uint8Array([1, 2, 3]) },
      { key: new TextEncoder().encode('d:doc\u0000s'), value: new Uint8Array(300_000).fill(7) },
      { key: new TextEncoder().encode('empty'), value: new Uint8Array(0) },
    ]
    const writer = await BackupWriter.create(file, header)
    for (const r of records) await writer.write(r.key, r.value)
    const written = await writer.finish()
    expect(written.records).toBe(3)

    const reader = await BackupReader.open(file)
    expect(reader.header).toEqual(header)
    const read: typeof records = []
    const iterator = reader.records()
    let summary: Awaited<ReturnType<typeof verifyBackup>> | undefined
    for (;;) {
      const next = await iterator.next()
      if (next.done) {
        summary = next.value
        break
      }
      read.push(next.value)
    }
    await reader.close()
    expect(read).toEqual(records)
    expect(summary).toMatchObject({ records: 3, payloadBytes: written.payloadBytes })

    const partial = join(dir, 'partial.rzb')
    const unfinished = await BackupWriter.create(partial, header)
    await unfinished.write(records[0]!.key, records[0]!.value)
    await unfinished.abort()
    await expect(verifyBackup(partial)).rejects.toThrow(/truncated/)
    await writeFile(partial, Buffer.from('not a backup at all'))
    await expect(verifyBackup(partial)).rejects.toThrow(/magic/)
    expect((await readFile(file)).length).toBe(written.fileBytes)
  })
})

describe('copyLevelDir', () => {
  it('takes a consistent copy of a database that flushes and compacts while it is copied', async () => {
    const source = join(dir, 'busy-db')
    // A tiny write buffer makes LevelDB flush (and so change its file set) every few writes.
    const db = new ClassicLevel<string, string>(source, { writeBufferSize: 16 * 1024 })
    await db.open()
    const value = 'v'.repeat(1000)
    let written = 0
    let writing = true
    const writer = (async () => {
      while (writing) {
        // Two keys per batch: a consistent copy holds both or neither.
        const i = String(written).padStart(8, '0')
        await db.batch([
          { type: 'put', key: `a${i}`, value },
          { type: 'put', key: `b${i}`, value },
        ])
        written++
        await new Promise((r) => setTimeout(r, 2))
      }
    })()
    while (written < 50) await new Promise((r) => setTimeout(r, 5))
    const copies: { attempts: number; count: number }[] = []
    for (let round = 0; round < 3; round++) {
      const target = join(dir, `copy-${round}`)
      const before = written
      const copy = await copyLevelDir(source, target, {
        verify: async (d) => {
          const c = new ClassicLevel(d)
          await c.open()
          await c.close()
        },
      })
      const after = written
      const copied = new ClassicLevel<string, string>(target)
      const a = await copied.keys({ gte: 'a', lt: 'b' }).all()
      const b = await copied.keys({ gte: 'b', lt: 'c' }).all()
      await copied.close()
      expect(a.map((k) => k.slice(1))).toEqual(b.map((k) => k.slice(1)))
      expect(a).toEqual(a.map((_, k) => `a${String(k).padStart(8, '0')}`))
      expect(a.length).toBeGreaterThanOrEqual(before)
      expect(a.length).toBeLessThanOrEqual(after + 1)
      copies.push({ attempts: copy.attempts, count: a.length })
    }
    writing = false
    await writer
    await db.close()
    expect(copies.length).toBe(3)
  })

  it('retries when the database flushes in the middle of the copy', async () => {
    const source = join(dir, 'flushing-db')
    const db = new ClassicLevel<string, string>(source, { writeBufferSize: 16 * 1024 })
    await db.open()
    const value = 'w'.repeat(1000)
    let n = 0
    const put = async (count: number) => {
      for (let i = 0; i < count; i++, n++) await db.put(`k${String(n).padStart(8, '0')}`, value)
    }
    await put(40)
    const files = async () => (await readdir(source)).join()
    const copy = await copyLevelDir(source, join(dir, 'flushing-copy'), {
      onFileCopied: async (_name, attempt) => {
        if (attempt > 1) return
        // Enough writes to fill the memtable twice: LevelDB flushes to a new table and a new log.
        const before = await files()
        await put(40)
        for (let i = 0; i < 100 && (await files()) === before; i++)
          await new Promise((r) => setTimeout(r, 10))
      },
    })
    expect(copy.attempts).toBeGreaterThan(1)
    const copied = new ClassicLevel<string, string>(join(dir, 'flushing-copy'))
    const keys = await copied.keys().all()
    await copied.close()
    await db.close()
    expect(keys.length).toBe(n)
  })

  it('refuses a directory that is not a LevelDB database', async () => {
    await expect(copyLevelDir(dir, join(dir, 'nothing'))).rejects.toThrow(/not a relay data directory/)
  })
})
