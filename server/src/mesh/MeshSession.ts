import { createSecretKey, type KeyObject } from 'node:crypto'
import { ErrorCode, encodeMeshMessage, type MeshMessage, RhizomeError } from '@rhizome/protocol'
import { frameMac, type MeshLinkKeys, verifyFrameMac } from './meshAuth.js'

/**
 * The authenticated half of an open mesh link: seals every frame it sends with the send key and the
 * next outbound sequence number, and opens every frame it receives only if its MAC matches the
 * receive key and the next inbound sequence number. Both counters start at 0 when the link opens
 * and are never sent, so a frame that is replayed, reordered, dropped, reflected back to its sender
 * or moved to another link fails the check.
 */
export class MeshSession {
  readonly #send: KeyObject
  readonly #receive: KeyObject
  #sent = 0
  #received = 0

  constructor(keys: MeshLinkKeys) {
    this.#send = createSecretKey(keys.send)
    this.#receive = createSecretKey(keys.receive)
  }

  /** Wraps one encoded wire frame (a message or one chunk of one) in a `sealed` frame. */
  seal(frame: Uint8Array): Uint8Array {
    const mac = frameMac(this.#send, this.#sent++, frame)
    return encodeMeshMessage({ type: 'sealed', body: frame, mac })
  }

  /**
   * Returns the body of the next inbound frame once its MAC checks out; nothing of a frame that
   * fails is returned, so nothing of it can be applied.
   * @throws RhizomeError AUTH_INVALID when the frame is not `sealed` or its MAC does not match (the
   * link must be closed: the counters no longer agree).
   */
  open(m: MeshMessage): Uint8Array {
    if (m.type !== 'sealed')
      throw new RhizomeError(ErrorCode.AUTH_INVALID, `unsealed mesh ${m.type} on an open link`)
    if (!verifyFrameMac(this.#receive, this.#received, m.body, m.mac))
      throw new RhizomeError(ErrorCode.AUTH_INVALID, `mesh frame ${this.#received} failed its MAC`)
    this.#received++
    return m.body
  }
}
