import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeChecked, encodeChecked } from './checksum.js'
import { DOC_COUNT_KEY, metaRange } from './keys.js'
import { type AnyLevel, RAW } from './records.js'

/**
 * The number of documents stored, once at open: from the document count record every commit that
 * creates or drops documents keeps, so opening costs the same for 1,000 documents and 100,000.
 * A store written before that record existed (or whose record is damaged) counts its meta records.
 */
export async function countDocs(db: AnyLevel): Promise<number> {
  const raw = await db.get<string, Uint8Array>(DOC_COUNT_KEY, RAW)
  const payload = raw === undefined ? null : decodeChecked(DOC_COUNT_KEY, raw)
  if (payload !== null) {
    try {
      return decoding.readVarUint(decoding.createDecoder(payload))
    } catch {}
  }
  let docCount = 0
  for await (const _ of db.keys<string>({ ...metaRange(), keyEncoding: 'utf8' })) docCount++
  return docCount
}

/** The document count record's value (see {@link countDocs}). */
export function encodeDocCount(count: number): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, count)
  return encodeChecked(DOC_COUNT_KEY, encoding.toUint8Array(e))
}
