import type WebSocket from 'ws'

/** How a test socket ended: the close code the relay chose, or the HTTP status that refused the upgrade. */
export interface SocketEnding {
  code: number | null
  reason: string
  httpStatus: number | null
}

/**
 * Watches a test client's socket: `opened` resolves true once the upgrade completed (false when it
 * was refused or failed), `ending` once the socket ended, however it ended; `onEnd` sees the ending
 * first (the clients keep it as `ended`).
 */
export function watchSocket(
  ws: WebSocket,
  onEnd: (ending: SocketEnding) => void,
): { opened: Promise<boolean>; ending: Promise<SocketEnding> } {
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true))
    ws.once('close', () => resolve(false))
    ws.once('unexpected-response', () => resolve(false))
    ws.once('error', () => resolve(false))
  })
  const ending = new Promise<SocketEnding>((resolve) => {
    let ended = false
    const end = (e: SocketEnding) => {
      if (ended) return
      ended = true
      onEnd(e)
      resolve(e)
    }
    ws.on('close', (code, reason) => end({ code, reason: reason.toString(), httpStatus: null }))
    ws.on('unexpected-response', (_req, res) => {
      end({ code: null, reason: '', httpStatus: res.statusCode ?? null })
      res.resume()
      ws.terminate()
    })
    ws.on('error', (err) => {
      // An error before 'close' (e.g. a refused connection) still ends the socket.
      setTimeout(() => end({ code: null, reason: err.message, httpStatus: null }), 2000).unref()
    })
  })
  return { opened, ending }
}
