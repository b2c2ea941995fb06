import { decodeMeshMessage, type MeshMessage } from '@rhizome/protocol'
import { malformedMesh } from './malformedMesh.js'

/** Largest message reassembled from chunks. */
const MAX_REASSEMBLED_BYTES = 1024 * 1024 * 1024

/**
 * Reassembles chunked mesh messages (`chunk`, see `chunkMeshFrame` in @rhizome/protocol): collects
 * the chunks of one message, in order, up to a bound, and only from an authenticated peer.
 */
export class ChunkAssembler {
  #chunks: Uint8Array[] = []
  #bytes = 0

  /**
   * Takes the next inbound message; returns the whole message once its last chunk arrived (or `m`
   * itself at once when it was not chunked), `null` while more chunks are due.
   * @param authenticated whether the link is open: only an authenticated peer may make us buffer
   *   more than one frame.
   * @throws RhizomeError PROTOCOL_MALFORMED for a chunk before the handshake, a message that
   *   interrupts a chunked one, a nested chunk, or more than 1 GiB reassembled.
   */
  push(m: MeshMessage, authenticated: boolean): MeshMessage | null {
    if (m.type !== 'chunk') {
      if (this.#chunks.length > 0) throw malformedMesh('a message interrupted a chunked message')
      return m
    }
    if (!authenticated) throw malformedMesh('chunk before the handshake')
    this.#chunks.push(m.bytes)
    this.#bytes += m.bytes.length
    if (this.#bytes > MAX_REASSEMBLED_BYTES) throw malformedMesh('chunked message too large')
    if (!m.last) return null
    const whole = new Uint8Array(this.#bytes)
    let at = 0
    for (const c of this.#chunks) {
      whole.set(c, at)
      at += c.length
    }
    this.#chunks = []
    this.#bytes = 0
    const inner = decodeMeshMessage(whole)
    if (inner.type === 'chunk') throw malformedMesh('nested chunk')
    return inner
  }

  /** Drops a partly reassembled message (the link closed). */
  clear(): void {
    this.#chunks = []
    this.#bytes = 0
  }
}
