/**
 * Holds a device session's live frames until its `welcome` has gone out. A session subscribes to
 * its patterns before it waits for pending commits and sends `welcome` (so that no change falls
 * between the head it reports and the live feed), and updates published in that wait would
 * otherwise reach the device first: the client treats anything but `welcome` as the first frame
 * as malformed (docs/PROTOCOL.md section 7.2), drops the session and retries with backoff. Right
 * after every relay restarted, the mesh keeps that window busy and devices kept failing their
 * handshakes, which delayed them for seconds.
 */
export class WelcomeGate {
  #held: Uint8Array[] | null = []

  /** True (and the frame is kept, in order) while the welcome has not been sent. */
  hold(frame: Uint8Array): boolean {
    if (this.#held === null) return false
    this.#held.push(frame)
    return true
  }

  /** The welcome went out: returns the held frames, in arrival order; later frames pass. */
  open(): Uint8Array[] {
    const held = this.#held ?? []
    this.#held = null
    return held
  }
}
