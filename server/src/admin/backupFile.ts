import { type FileHandle, open } from 'node:fs/promises'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { crc32 } from '@rhizome/store'

/**
 * The backup file format, version 1. Everything is a byte stream; integers are unsigned LEB128
 * varints (as lib0 writes them) unless said otherwise.
 *
 * ```
 * magic     8 bytes  "RHZBAK\0\x01"
 * header    varint n, then n bytes of UTF-8 JSON (BackupHeader)
 * record*   0x01, varint k, k key bytes, varint v, v value bytes   (raw LevelDB entries, key order)
 * trailer   0x00, varint records, varint payload bytes (sum of k + v),
 *           4 bytes big-endian CRC-32 of every byte from the magic up to here,
 * end       8 bytes "RHZBAK\xff\xfe"
 * ```
 *
 * The trailer makes a truncated or damaged file detectable: a reader accepts the contents only
 * after the count, the CRC and the end marker all matched and nothing follows them. Values keep
 * the store's own per-record checksums, so `rhizome inspect` on a restored directory checks them.
 */
export const BACKUP_MAGIC = Uint8Array.from([0x52, 0x48, 0x5a, 0x42, 0x41, 0x4b, 0x00, 0x01])
/** End marker after the trailer. */
export const BACKUP_END = Uint8Array.from([0x52, 0x48, 0x5a, 0x42, 0x41, 0x4b, 0xff, 0xfe])

const RECORD = 0x01
const TRAILER = 0x00
const FLUSH_BYTES = 1024 * 1024
const READ_BYTES = 1024 * 1024

/** What a backup says about itself. */
export interface BackupHeader {
  format: 'rhizome-backup'
  version: 1
  /** ISO time the copy was taken. */
  createdAt: string
  /** Data directory it was taken from. */
  source: string
  /** Store id of the source, when it had a readable one. */
  storeId: string | null
}

/** Totals a reader verified in the trailer. */
export interface BackupSummary {
  header: BackupHeader
  records: number
  payloadBytes: number
}

function writeVarUint(out: number[], n: number): void {
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
}

function varUintBytes(n: number): Uint8Array {
  const out: number[] = []
  writeVarUint(out, n)
  return Uint8Array.from(out)
}

function damaged(path: string, detail: string): RhizomeError {
  return new RhizomeError(ErrorCode.STORE_CORRUPT, `${path} is not a complete rhizome backup: ${detail}`)
}

/**
 * Streams a backup file: header, records, trailer. Output is buffered and written in 1 MiB
 * chunks; {@link finish} writes the trailer and fsyncs. Inverse of {@link BackupReader}.
 */
export class BackupWriter {
  readonly #file: FileHandle
  #chunks: Uint8Array[] = []
  #buffered = 0
  #crc = 0
  #records = 0
  #payloadBytes = 0

  private constructor(file: FileHandle) {
    this.#file = file
  }

  /** Creates (or truncates) `path` and writes the magic and the header. */
  static async create(path: string, header: BackupHeader): Promise<BackupWriter> {
    const file = await open(path, 'w')
    const writer = new BackupWriter(file)
    const json = new TextEncoder().encode(JSON.stringify(header))
    writer.#push(BACKUP_MAGIC)
    writer.#push(varUintBytes(json.length))
    writer.#push(json)
    return writer
  }

  /** Appends one raw key/value entry. */
  async write(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.#push(Uint8Array.of(RECORD))
    this.#push(varUintBytes(key.length))
    this.#push(key)
    this.#push(varUintBytes(value.length))
    this.#push(value)
    this.#records++
    this.#payloadBytes += key.length + value.length
    if (this.#buffered >= FLUSH_BYTES) await this.#flush()
  }

  /** Writes the trailer and end marker, fsyncs and closes the file. */
  async finish(): Promise<{ records: number; payloadBytes: number; fileBytes: number }> {
    this.#push(Uint8Array.of(TRAILER))
    this.#push(varUintBytes(this.#records))
    this.#push(varUintBytes(this.#payloadBytes))
    const crc = new Uint8Array(4)
    new DataView(crc.buffer).setUint32(0, this.#crc)
    this.#chunks.push(crc, BACKUP_END)
    this.#buffered += crc.length + BACKUP_END.length
    await this.#flush()
    await this.#file.sync()
    const { size } = await this.#file.stat()
    await this.#file.close()
    return { records: this.#records, payloadBytes: this.#payloadBytes, fileBytes: size }
  }

  /** Closes the file without a trailer (after a failure); the partial file is not a valid backup. */
  async abort(): Promise<void> {
    await this.#file.close().catch(() => {})
  }

  #push(bytes: Uint8Array): void {
    this.#crc = crc32(bytes, this.#crc)
    this.#chunks.push(bytes)
    this.#buffered += bytes.length
  }

  async #flush(): Promise<void> {
    if (this.#buffered === 0) return
    const data = Buffer.concat(this.#chunks)
    this.#chunks = []
    this.#buffered = 0
    await this.#file.write(data)
  }
}

/** Buffered reads from a file handle, with a running CRC over everything consumed. */
class ByteSource {
  #buffer = new Uint8Array(0)
  #pos = 0
  #eof = false
  crc = 0

  constructor(
    private readonly file: FileHandle,
    private readonly path: string,
  ) {}

  async #fill(need: number): Promise<void> {
    while (this.#buffer.length - this.#pos < need && !this.#eof) {
      const chunk = Buffer.allocUnsafe(Math.max(READ_BYTES, need))
      const { bytesRead } = await this.file.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) {
        this.#eof = true
        break
      }
      const rest = this.#buffer.subarray(this.#pos)
      const next = new Uint8Array(rest.length + bytesRead)
      next.set(rest)
      next.set(chunk.subarray(0, bytesRead), rest.length)
      this.#buffer = next
      this.#pos = 0
    }
  }

  /** Exactly `n` bytes (a copy), counted into the CRC unless `uncounted`. */
  async read(n: number, what: string, uncounted = false): Promise<Uint8Array> {
    await this.#fill(n)
    if (this.#buffer.length - this.#pos < n) throw damaged(this.path, `truncated in ${what}`)
    const out = this.#buffer.slice(this.#pos, this.#pos + n)
    this.#pos += n
    if (!uncounted) this.crc = crc32(out, this.crc)
    return out
  }

  async readVarUint(what: string): Promise<number> {
    let n = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const byte = (await this.read(1, what))[0]!
      n += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) return n
      scale *= 128
    }
    throw damaged(this.path, `bad length in ${what}`)
  }

  async atEnd(): Promise<boolean> {
    await this.#fill(1)
    return this.#buffer.length - this.#pos === 0
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/**
 * Reads a backup written by {@link BackupWriter}. Records are yielded as they are read; the
 * trailer is checked when the iteration ends, so a consumer must treat everything it received as
 * unverified until {@link records} finished without throwing (see `verifyBackup`).
 */
export class BackupReader {
  private constructor(
    readonly path: string,
    readonly header: BackupHeader,
    private readonly file: FileHandle,
    private readonly source: ByteSource,
  ) {}

  /**
   * Opens `path` and reads its magic and header.
   * @throws RhizomeError USAGE when the file cannot be opened, STORE_CORRUPT when it is not a backup.
   */
  static async open(path: string): Promise<BackupReader> {
    let file: FileHandle
    try {
      file = await open(path, 'r')
    } catch (err) {
      throw new RhizomeError(ErrorCode.USAGE, `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    try {
      const source = new ByteSource(file, path)
      const magic = await source.read(BACKUP_MAGIC.length, 'the magic')
      if (!equal(magic, BACKUP_MAGIC))
        throw damaged(path, 'no rhizome backup magic (wrong file or format version)')
      const length = await source.readVarUint('the header')
      if (length > 1024 * 1024) throw damaged(path, 'header too long')
      let header: BackupHeader
      try {
        header = JSON.parse(new TextDecoder().decode(await source.read(length, 'the header')))
      } catch (err) {
        if (err instanceof RhizomeError) throw err
        throw damaged(path, 'unreadable header')
      }
      if (header?.format !== 'rhizome-backup' || header.version !== 1)
        throw damaged(path, 'unknown header format')
      return new BackupReader(path, header, file, source)
    } catch (err) {
      await file.close()
      throw err
    }
  }

  /**
   * Yields every record, then verifies the trailer, CRC, end marker and that nothing follows.
   * @throws RhizomeError STORE_CORRUPT when any of those fails (truncated or damaged file).
   */
  async *records(): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }, BackupSummary> {
    const src = this.source
    let records = 0
    let payloadBytes = 0
    for (;;) {
      const tag = (await src.read(1, 'a record tag'))[0]!
      if (tag === TRAILER) break
      if (tag !== RECORD) throw damaged(this.path, `unknown record tag ${tag} after ${records} records`)
      const key = await src.read(await src.readVarUint('a key length'), 'a key')
      const value = await src.read(await src.readVarUint('a value length'), 'a value')
      records++
      payloadBytes += key.length + value.length
      yield { key, value }
    }
    const count = await src.readVarUint('the trailer')
    const bytes = await src.readVarUint('the trailer')
    const expected = src.crc
    const stored = new DataView((await src.read(4, 'the trailer checksum', true)).buffer).getUint32(0)
    const end = await src.read(BACKUP_END.length, 'the end marker', true)
    if (count !== records || bytes !== payloadBytes) {
      throw damaged(this.path, `trailer counts ${count} records, file holds ${records}`)
    }
    if (stored !== expected) throw damaged(this.path, 'checksum mismatch')
    if (!equal(end, BACKUP_END)) throw damaged(this.path, 'bad end marker')
    if (!(await src.atEnd())) throw damaged(this.path, 'unexpected bytes after the end marker')
    return { header: this.header, records, payloadBytes }
  }

  async close(): Promise<void> {
    await this.file.close()
  }
}

/**
 * Reads a whole backup and checks its trailer without keeping any record.
 * @throws RhizomeError STORE_CORRUPT when it is truncated or damaged, USAGE when it cannot be read.
 */
export async function verifyBackup(path: string, onRecord?: () => void): Promise<BackupSummary> {
  const reader = await BackupReader.open(path)
  try {
    const iterator = reader.records()
    for (;;) {
      const next = await iterator.next()
      if (next.done) return next.value
      onRecord?.()
    }
  } finally {
    await reader.close()
  }
}
