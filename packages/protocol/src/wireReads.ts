import * as decoding from 'lib0/decoding'
import type { RhizomeError } from './errors.js'

/** Builds the PROTOCOL_MALFORMED error of one wire format (each names its own format). */
export type Malformed = (detail: string, cause?: unknown) => RhizomeError

/**
 * Strict readers of lib0-encoded frames shared by every wire format of the protocol package:
 * lib0 silently loses precision past 2^53 and reads on past a frame's end into the underlying
 * buffer; these refuse both, with the caller's error.
 */
export function readSafeVarUint(d: decoding.Decoder, malformed: Malformed): number {
  const n = decoding.readVarUint(d)
  if (!Number.isSafeInteger(n)) throw malformed('varint out of range')
  return n
}

/** Reads a length-prefixed byte array, refusing a length past the end before allocating anything. */
export function readLengthPrefixed(d: decoding.Decoder, malformed: Malformed): Uint8Array {
  const len = readSafeVarUint(d, malformed)
  if (len > d.arr.length - d.pos) throw malformed('length prefix past the end of the frame')
  return decoding.readUint8Array(d, len)
}

/** Reads an element count, refusing one past the frame's end (every element takes a byte). */
export function readCount(d: decoding.Decoder, malformed: Malformed, bytesPerElement = 1): number {
  const n = readSafeVarUint(d, malformed)
  if (n > (d.arr.length - d.pos) / bytesPerElement) throw malformed('element count past the end of the frame')
  return n
}
