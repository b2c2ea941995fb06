import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32Table } from '../src/checksum.js'
import { CHECKSUM_BYTES, crc32, decodeChecked, encodeChecked } from '../src/index.js'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(bytes('123456789'))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    expect(crc32(bytes('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339)
  })

  it('agrees with zlib on random inputs and continues incrementally', () => {
    let seed = 12345
    const next = () => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed >>> 24
    }
    for (let n = 0; n < 200; n++) {
      const data = Uint8Array.from({ length: n * 3 }, next)
      expect(crc32(data)).toBe(zlibCrc32(data))
      // The plain-JS table that browsers use gives the same checksums.
      expect(crc32Table(data)).toBe(zlibCrc32(data))
      expect(crc32Table(data.subarray(1), crc32Table(data.subarray(0, 1)))).toBe(zlibCrc32(data))
      const cut = Math.floor(data.length / 3)
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(crc32(data))
    }
  })
})

describe('encodeChecked / decodeChecked', () => {
  it('round-trips payloads, including empty ones', () => {
    for (const payload of [
      new Uint8Array(0),
      bytes('x'),
      Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff),
    ]) {
      const value = encodeChecked('d:doc\u0000s', payload)
      expect(value.length).toBe(payload.length + CHECKSUM_BYTES)
      expect(decodeChecked('d:doc\u0000s', value)).toEqual(payload)
    }
  })

  it('round-trips a payload that is a view into a larger buffer', () => {
    const big = bytes('..hello..')
    const value = encodeChecked('k', big.subarray(2, 7))
    const shifted = new Uint8Array(value.length + 3)
    shifted.set(value, 3)
    expect(decodeChecked('k', shifted.subarray(3))).toEqual(bytes('hello'))
  })

  it('detects every single-bit flip, truncation and a value stored under another key', () => {
    const value = encodeChecked('m:doc', bytes('some meta payload'))
    for (let bit = 0; bit < value.length * 8; bit++) {
      const bad = value.slice()
      bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7))
      expect(decodeChecked('m:doc', bad)).toBeNull()
    }
    expect(decodeChecked('m:doc', value.subarray(0, value.length - 1))).toBeNull()
    expect(decodeChecked('m:doc', value.subarray(0, 3))).toBeNull()
    expect(decodeChecked('m:other', value)).toBeNull()
  })
})
