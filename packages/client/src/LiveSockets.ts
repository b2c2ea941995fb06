/**
 * The sockets of one session that are not fully closed yet, each with a promise of its close
 * event, so that closing the session can wait for their closing handshakes.
 */
export class LiveSockets {
  readonly #live = new Map<WebSocket, Promise<void>>()

  /** Tracks `ws` until its `close` event. */
  add(ws: WebSocket): void {
    this.#live.set(
      ws,
      new Promise<void>((resolve) => {
        ws.addEventListener('close', () => {
          this.#live.delete(ws)
          resolve()
        })
      }),
    )
  }

  /**
   * Waits for the closing handshake of the sockets tracked now for at most `waitMs`, then cuts off
   * the rest. Only those: a socket added meanwhile is left alone. Never rejects.
   */
  async whenClosed(waitMs: number): Promise<void> {
    const closing = [...this.#live]
    if (closing.length > 0) {
      let deadline: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        Promise.all(closing.map(([, closed]) => closed)),
        new Promise<void>((resolve) => {
          deadline = setTimeout(resolve, waitMs)
        }),
      ])
      clearTimeout(deadline)
    }
    for (const [socket] of closing) {
      terminateSocket(socket)
      this.#live.delete(socket)
    }
  }
}

/**
 * Cuts a socket off without a closing handshake where the implementation can (`ws` in Node has
 * `terminate()`; the browser's WebSocket has not). Returns false when it cannot.
 */
export function terminateSocket(ws: WebSocket): boolean {
  const terminate = (ws as unknown as { terminate?: () => void }).terminate
  if (typeof terminate !== 'function') return false
  terminate.call(ws)
  return true
}

/** Gives up on a socket now: cut off where the implementation can, else closed with `code`. Never throws. */
export function cutOff(ws: WebSocket, code: number, reason: string): void {
  if (terminateSocket(ws)) return
  try {
    ws.close(code, reason)
  } catch {
    // already closing
  }
}
