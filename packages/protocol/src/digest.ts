import { digest as sha256 } from 'lib0/hash/sha256'
import * as Y from 'yjs'

const hex = (bytes: Uint8Array): string => {
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

/**
 * The digest of a replica: lowercase hex SHA-256 of `Y.encodeSnapshot(Y.snapshot(doc))`, i.e. of
 * its state vector plus delete set. Two replicas with equal digests hold the same state.
 */
export function digestOfDoc(doc: Y.Doc): string {
  return hex(sha256(Y.encodeSnapshot(Y.snapshot(doc))))
}

/** Digest of the state a v1 update describes (applied to a fresh doc). */
export function digestOfUpdate(update: Uint8Array): string {
  const doc = new Y.Doc({ guid: 'rhizome-digest' })
  try {
    Y.applyUpdate(doc, update)
    return digestOfDoc(doc)
  } finally {
    doc.destroy()
  }
}
