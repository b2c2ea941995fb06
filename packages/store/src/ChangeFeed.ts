import { decodeChecked } from './checksum.js'
import { changeRange, seqOfChangeKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { type AnyLevel, RAW } from './records.js'

/** One document in the change feed: its name and the sequence number of its last content change. */
export interface ChangeRecord {
  name: string
  seq: number
}

const PAGE = 256
const utf8 = new TextDecoder()

/** The highest change sequence number stored in `db` (0 when none): read once at open. */
export async function loadChangeHead(db: AnyLevel): Promise<number> {
  const [last] = await db
    .keys<string>({ ...changeRange(0), reverse: true, limit: 1, keyEncoding: 'utf8' })
    .all()
  if (last === undefined) return 0
  const seq = seqOfChangeKey(last)
  return Number.isSafeInteger(seq) ? seq : 0
}

/**
 * The change feed: every document whose last content change has a sequence number above `seq`, in
 * sequence order, each document once, read in pages. Its cost is the number of documents that
 * changed since `seq`, not the number stored. A change record that fails its checksum is skipped
 * (a device that misses it finds the document in its next full listing).
 * @throws RhizomeError STORE_CLOSED when the store closes before the next page.
 */
export async function* changesSince(db: AnyLevel, life: Lifecycle, seq: number): AsyncIterable<ChangeRecord> {
  let cursor = seq
  for (;;) {
    life.assertOpen()
    const page = await db.iterator<string, Uint8Array>({ ...changeRange(cursor), limit: PAGE, ...RAW }).all()
    for (const [key, value] of page) {
      cursor = seqOfChangeKey(key)
      const payload = decodeChecked(key, value)
      if (payload === null || !Number.isSafeInteger(cursor)) continue
      yield { name: utf8.decode(payload), seq: cursor }
    }
    if (page.length < PAGE) return
  }
}
