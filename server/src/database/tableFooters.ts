import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** LevelDB's table magic number (`kTableMagicNumber`), stored little-endian in a table's last 8 bytes. */
const TABLE_MAGIC = Buffer.from([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb])
/** A table's footer: two block handles padded to 40 bytes, then the magic number. */
const FOOTER_BYTES = 48

/**
 * Table files of a LevelDB directory whose footer is missing or damaged: a file cut short (a torn
 * copy, a full disk, a truncated restore) loses its footer first. LevelDB only notices when the
 * table is first read, possibly long after it started serving; this check reads 48 bytes per table
 * file, so it costs the number of files, not the size of the data.
 */
export async function damagedTables(dir: string): Promise<string[]> {
  let files: string[]
  try {
    files = await readdir(dir)
  } catch {
    return []
  }
  const damaged: string[] = []
  for (const file of files) {
    if (!file.endsWith('.ldb') && !file.endsWith('.sst')) continue
    let handle: Awaited<ReturnType<typeof open>>
    try {
      handle = await open(join(dir, file), 'r')
    } catch (err) {
      // LevelDB (open, holding the lock) may have compacted the table away since the listing.
      if ((err as { code?: string }).code === 'ENOENT') continue
      throw err
    }
    try {
      const { size } = await handle.stat()
      if (size < FOOTER_BYTES) {
        damaged.push(file)
        continue
      }
      const magic = Buffer.alloc(TABLE_MAGIC.length)
      await handle.read(magic, 0, magic.length, size - magic.length)
      if (!magic.equals(TABLE_MAGIC)) damaged.push(file)
    } finally {
      await handle.close()
    }
  }
  return damaged
}
