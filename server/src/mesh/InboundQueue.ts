import type { WebSocket } from 'ws'

/** Inbound frames queued before the socket is paused. */
const INBOUND_HIGH_WATER = 256

/**
 * Inbound backpressure of one link: frames are handled one at a time, in order, each awaited
 * (applying may wait for the store); while too many are queued the socket is paused, so a fast
 * peer cannot fill our memory. The first frame that fails stops the queue.
 */
export class InboundQueue {
  #frames: Uint8Array[] = []
  #draining = false
  #paused = false

  constructor(
    private readonly ws: WebSocket,
    /** True once the link is closed: queued frames are then left unhandled. */
    private readonly isClosed: () => boolean,
    /** Handles one frame; a rejection goes to `onError` and stops the queue. */
    private readonly handle: (frame: Uint8Array) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Queues a frame as it arrives from the socket. */
  push(frame: Uint8Array): void {
    this.#frames.push(frame)
    if (this.#frames.length > INBOUND_HIGH_WATER && !this.#paused) {
      this.#paused = true
      this.ws.pause()
    }
    if (!this.#draining) void this.#drain()
  }

  async #drain(): Promise<void> {
    this.#draining = true
    try {
      while (this.#frames.length > 0 && !this.isClosed()) {
        const frame = this.#frames.shift()!
        if (this.#paused && this.#frames.length < INBOUND_HIGH_WATER / 2) {
          this.#paused = false
          this.ws.resume()
        }
        try {
          await this.handle(frame)
        } catch (err) {
          this.onError(err)
          return
        }
      }
    } finally {
      this.#draining = false
    }
  }
}
