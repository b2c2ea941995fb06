import type { WebSocket } from 'ws'

/** Outbound bytes before a sender waits for the socket to drain. */
const SEND_HIGH_WATER = 1024 * 1024

/**
 * Outbound backpressure of one link: lets the catalog stream and pull answers wait while the
 * socket's send buffer is over a high-water mark, instead of queueing a whole catalog in memory.
 */
export class SendDrain {
  #waiters: (() => void)[] = []

  constructor(
    private readonly ws: WebSocket,
    /** False once the link is closed (or not open yet): nobody waits then. */
    private readonly isOpen: () => boolean,
  ) {}

  /** Resolves once the socket's send buffer is under the high-water mark, or the link closed. */
  whenDrained(): Promise<void> {
    if (!this.isOpen() || this.ws.bufferedAmount <= SEND_HIGH_WATER) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /**
   * Called as each frame leaves ws' buffer (the `send` callback), and once when the link closes:
   * wakes the waiters once the buffer drained.
   */
  onFrameWritten = (): void => {
    if (this.#waiters.length === 0) return
    if (this.isOpen() && this.ws.bufferedAmount > SEND_HIGH_WATER) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}
