/** The part of a `ws` WebSocket this needs: its TCP socket (`_socket`, not part of the typed API). */
interface Corkable {
  _socket?: { cork(): void; uncork(): void; destroyed?: boolean } | null
}

const corked = new WeakSet<object>()

/**
 * Holds the frames sent on `ws` in this turn in its TCP socket's buffer until the end of the turn,
 * so they leave in one `writev` instead of one system call each: one group commit completes
 * hundreds of a device's documents at once and each gets its own `ack` frame. Frames keep their
 * order; nothing waits longer than the current turn. A socket without `_socket` (not a `ws`
 * WebSocket) is left alone.
 */
export function corkUntilTick(ws: object): void {
  const socket = (ws as Corkable)._socket
  if (!socket || corked.has(socket) || socket.destroyed) return
  corked.add(socket)
  socket.cork()
  process.nextTick(() => {
    corked.delete(socket)
    socket.uncork()
  })
}
