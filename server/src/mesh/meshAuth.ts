import { createHmac, hkdfSync, type KeyObject, timingSafeEqual } from 'node:crypto'
import { MESH_NONCE_BYTES } from '@rhizome/protocol'
import * as encoding from 'lib0/encoding'

/**
 * Which way a proof or a frame travels on a mesh link. Each direction has its own proof and its
 * own frame key, so nothing one side produces is ever valid when sent back to it.
 */
export type MeshDirection = 'dialer->acceptor' | 'acceptor->dialer'

/** One end of a mesh handshake: what it announced in its `hello` or `challenge`. */
export interface MeshEnd {
  relayId: string
  storeId: string
  nonce: Uint8Array
}

/**
 * What both ends of a link agreed on in the handshake (docs/PROTOCOL.md section 1, `--mesh-secret`):
 * every proof and every frame key is bound to all of it, so a proof or a frame is valid only on
 * the link, between the two stores and in the direction it was made for.
 */
export interface MeshTranscript {
  version: number
  dialer: MeshEnd
  acceptor: MeshEnd
}

/** Bytes of a handshake proof (HMAC-SHA256). */
export const MESH_PROOF_BYTES = 32

/**
 * Bytes of a frame MAC: HMAC-SHA256 truncated to 128 bits (RFC 2104 section 5 allows down to half
 * the hash), since most mesh frames are small updates and the tag is paid on every one.
 */
export const MESH_MAC_BYTES = 16

/** Bytes of each derived frame key. */
const KEY_BYTES = 32

/** The direction in which `role` sends. */
export function sendDirection(role: 'dialer' | 'acceptor'): MeshDirection {
  return role === 'dialer' ? 'dialer->acceptor' : 'acceptor->dialer'
}

/**
 * The unambiguous encoding of a transcript for one purpose and direction: every field
 * length-prefixed, so no two different transcripts (or purposes) encode alike.
 */
function transcriptBytes(purpose: string, direction: MeshDirection, t: MeshTranscript): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, `rhizome-mesh/${purpose}`)
  encoding.writeVarString(e, direction)
  encoding.writeVarUint(e, t.version)
  for (const end of [t.dialer, t.acceptor]) {
    encoding.writeVarString(e, end.relayId)
    encoding.writeVarString(e, end.storeId)
    encoding.writeVarUint8Array(e, end.nonce)
  }
  return encoding.toUint8Array(e)
}

/**
 * HKDF-SHA256 of the mesh secret, salted with both nonces, for one purpose, direction and
 * transcript. Proofs and frame keys are independent outputs of the same extraction.
 */
function derive(secret: string, purpose: string, direction: MeshDirection, t: MeshTranscript, bytes: number) {
  const salt = Buffer.concat([t.dialer.nonce, t.acceptor.nonce])
  return new Uint8Array(hkdfSync('sha256', secret, salt, transcriptBytes(purpose, direction, t), bytes))
}

/**
 * Checks that a transcript can be bound to: a non-empty secret, nonces of {@link MESH_NONCE_BYTES}
 * and two different stores.
 * @throws TypeError when it cannot (callers refuse such a handshake before deriving anything).
 */
function checkTranscript(secret: string, t: MeshTranscript): void {
  if (secret === '') throw new TypeError('a mesh secret is required')
  if (t.dialer.nonce.length !== MESH_NONCE_BYTES || t.acceptor.nonce.length !== MESH_NONCE_BYTES)
    throw new TypeError(`mesh nonces must be ${MESH_NONCE_BYTES} bytes`)
  if (t.dialer.storeId === t.acceptor.storeId) throw new TypeError('a mesh link needs two different stores')
}

/**
 * The proof that the sender of `direction` holds the mesh secret, for this transcript only.
 * @throws TypeError for an empty secret, wrong nonce lengths or equal store ids.
 */
export function meshProof(secret: string, direction: MeshDirection, t: MeshTranscript): Uint8Array {
  checkTranscript(secret, t)
  return derive(secret, 'proof', direction, t, MESH_PROOF_BYTES)
}

/**
 * True when `proof` is {@link meshProof} of this secret, direction and transcript (compared in
 * constant time). False, never a throw, for a transcript that cannot be bound to.
 */
export function verifyMeshProof(
  secret: string,
  direction: MeshDirection,
  t: MeshTranscript,
  proof: Uint8Array,
): boolean {
  let expected: Uint8Array
  try {
    expected = meshProof(secret, direction, t)
  } catch {
    return false
  }
  return proof.length === expected.length && timingSafeEqual(proof, expected)
}

/** The frame keys of one end of a link. */
export interface MeshLinkKeys {
  /** MACs the frames this end sends. */
  send: Uint8Array
  /** Checks the frames this end receives (the other end's `send`). */
  receive: Uint8Array
}

/**
 * The per-link frame keys for `role`, one per direction: the dialer's `send` is the acceptor's
 * `receive` and the other way round.
 * @throws TypeError for an empty secret, wrong nonce lengths or equal store ids.
 */
export function deriveLinkKeys(secret: string, t: MeshTranscript, role: 'dialer' | 'acceptor'): MeshLinkKeys {
  checkTranscript(secret, t)
  const dialerToAcceptor = derive(secret, 'frames', 'dialer->acceptor', t, KEY_BYTES)
  const acceptorToDialer = derive(secret, 'frames', 'acceptor->dialer', t, KEY_BYTES)
  return role === 'dialer'
    ? { send: dialerToAcceptor, receive: acceptorToDialer }
    : { send: acceptorToDialer, receive: dialerToAcceptor }
}

/**
 * The MAC of the `seq`-th frame (from 0) sent in one direction of a link: HMAC-SHA256 under that
 * direction's key over the 64-bit big-endian sequence number and the frame, truncated to
 * {@link MESH_MAC_BYTES}. The number is implicit (both ends count), so a replayed, reordered or
 * dropped frame fails at the next MAC check.
 */
export function frameMac(key: Uint8Array | KeyObject, seq: number, frame: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new TypeError(`bad frame sequence number ${seq}`)
  const n = Buffer.allocUnsafe(8)
  n.writeUInt32BE(Math.floor(seq / 2 ** 32), 0)
  n.writeUInt32BE(seq >>> 0, 4)
  const mac = createHmac('sha256', key).update(n).update(frame).digest()
  return new Uint8Array(mac.buffer, mac.byteOffset, MESH_MAC_BYTES)
}

/** True when `mac` is {@link frameMac} of this key, sequence number and frame (constant time). */
export function verifyFrameMac(
  key: Uint8Array | KeyObject,
  seq: number,
  frame: Uint8Array,
  mac: Uint8Array,
): boolean {
  const expected = frameMac(key, seq, frame)
  return mac.length === expected.length && timingSafeEqual(mac, expected)
}
