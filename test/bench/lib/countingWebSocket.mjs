// A `ws` WebSocket that counts the payload bytes it sends and receives, so the device-sync scenario
// measures every client (Rhizome's replica, y-websocket, Hocuspocus) at the same place: the bytes
// the application puts on and takes off its sockets (frame headers and TCP overhead excluded).
import WebSocket from 'ws'

/** Byte length of anything `ws` sends or delivers (string, Buffer, ArrayBuffer, view, fragments). */
function sizeOf(data) {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (Array.isArray(data)) return data.reduce((n, d) => n + sizeOf(d), 0)
  return data?.byteLength ?? 0
}

const ignore = () => {}

/**
 * A WebSocket class for a client's `WebSocket` / `WebSocketPolyfill` option, and its counters.
 * `counts.in` / `counts.out` grow by each message's payload size; `counts.sockets` by each socket
 * opened. The caller may reset the counters between phases.
 */
export function countingWebSocket() {
  const counts = { in: 0, out: 0, sockets: 0 }
  class CountingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args)
      counts.sockets++
      // Hocuspocus' provider removes its listeners before closing a socket it retries; `ws` would
      // then throw the close-before-open error as an unhandled 'error' event and end the process.
      // The clients' own listeners still see every error.
      this.on('error', ignore)
      this.on('message', (data) => {
        counts.in += sizeOf(data)
      })
    }

    send(data, ...rest) {
      counts.out += sizeOf(data)
      return super.send(data, ...rest)
    }
  }
  return { WebSocket: CountingWebSocket, counts }
}
