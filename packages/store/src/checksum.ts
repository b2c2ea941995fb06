/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) and the checked-value framing every stored
 * value uses. Node's native `zlib.crc32` when the runtime has it (ten times faster: a refilling
 * relay checks every byte it receives and stores), else a table in plain JS, so it runs in
 * browsers as well.
 */

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

type Crc32 = (data: Uint8Array, previous?: number) => number

/** `zlib.crc32` of Node 20.15+ and 22.2+, reached without a static import so browsers load this module. */
const native: Crc32 | undefined = (() => {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  try {
    const zlib = runtime?.getBuiltinModule?.('node:zlib') as { crc32?: Crc32 } | undefined
    return typeof zlib?.crc32 === 'function' ? zlib.crc32 : undefined
  } catch {
    return undefined
  }
})()

/**
 * CRC-32 of `data`. Pass the result of a previous call as `previous` to continue a running checksum:
 * `crc32(b, crc32(a))` equals `crc32(a ++ b)`. Returns an unsigned 32-bit integer.
 */
export function crc32(data: Uint8Array, previous = 0): number {
  return native ? native(data, previous) : crc32Table(data, previous)
}

/** {@link crc32} in plain JS, one table lookup per byte: what runtimes without `zlib.crc32` use. */
export function crc32Table(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** Bytes of the checksum header in front of every checked value. */
export const CHECKSUM_BYTES = 4

const utf8 = new TextEncoder()

/** The checksum a checked value stores: CRC-32 over the UTF-8 key, continued over the payload. */
function checksumOf(key: string, payload: Uint8Array): number {
  return crc32(payload, crc32(utf8.encode(key)))
}

/**
 * Frames `payload` for storage under `key`: a 4-byte big-endian CRC-32 covering the key and the
 * payload, then the payload. Covering the key means a value copied under the wrong key also fails.
 * Inverse of {@link decodeChecked}.
 */
export function encodeChecked(key: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHECKSUM_BYTES + payload.length)
  new DataView(out.buffer).setUint32(0, checksumOf(key, payload))
  out.set(payload, CHECKSUM_BYTES)
  return out
}

/**
 * Verifies a value produced by {@link encodeChecked} for `key` and returns its payload (a view into
 * `value`, not a copy), or `null` when the value is truncated or fails its checksum.
 */
export function decodeChecked(key: string, value: Uint8Array): Uint8Array | null {
  if (value.length < CHECKSUM_BYTES) return null
  const stored = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0)
  const payload = value.subarray(CHECKSUM_BYTES)
  return stored === checksumOf(key, payload) ? payload : null
}
