/**
 * Identities of a store: the persisted store id peers know it by, and the per-open session that
 * prefixes its log keys.
 */
import { decodeChecked, encodeChecked } from './checksum.js'
import { STORE_ID_KEY } from './keys.js'
import { type AnyLevel, RAW, SYNC_BATCH } from './records.js'

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes))
  let out = ''
  for (const b of buf) out += b.toString(16).padStart(2, '0')
  return out
}

/**
 * The store id of `db`; on first open (or when the record is missing or damaged) a new random id,
 * persisted durably before this resolves.
 */
export async function loadStoreId(db: AnyLevel): Promise<string> {
  let id: string | null = null
  const raw = await db.get<string, Uint8Array>(STORE_ID_KEY, RAW)
  if (raw !== undefined) {
    const payload = decodeChecked(STORE_ID_KEY, raw)
    if (payload !== null) id = utf8Decoder.decode(payload)
  }
  if (id === null) {
    // A missing or damaged id means we cannot claim to be the store peers knew: start a new identity.
    id = randomHex(16)
    await db.batch<string, Uint8Array>(
      [{ type: 'put', key: STORE_ID_KEY, value: encodeChecked(STORE_ID_KEY, utf8.encode(id)) }],
      SYNC_BATCH,
    )
  }
  return id
}

/**
 * A new session: the prefix of one open's log keys. Time-ordered, so the records of a later open
 * sort after those of earlier ones and a compaction can resume after the last key it deleted.
 */
export function newSession(): string {
  return Date.now().toString(36).padStart(10, '0') + randomHex(3)
}
