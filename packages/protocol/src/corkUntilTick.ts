/** What this needs of a WebSocket: the TCP socket of a Node `ws` WebSocket (`_socket`, untyped there). */
interface Corkable {
  _socket?: { cork(): void; uncork(): void; destroyed?: boolean } | null
}

const corked = new WeakSet<object>()

/**
 * On Node with a `ws` WebSocket: holds the frames sent on `ws` in this turn in its TCP socket's
 * buffer until the end of the turn, so that they leave in one `writev` instead of one system call
 * each (a device refilling a wiped relay pushes thousands of documents in a row, and the relay
 * answers each with an ack once one group commit made hundreds durable). Frames keep their
 * order and wait no longer than the current turn. Any other WebSocket (a browser's, which batches
 * on its own) is left alone.
 */
export function corkUntilTick(ws: object): void {
  const socket = (ws as Corkable)._socket
  if (!socket || corked.has(socket) || socket.destroyed || typeof process === 'undefined') return
  corked.add(socket)
  socket.cork()
  process.nextTick(() => {
    corked.delete(socket)
    socket.uncork()
  })
}
