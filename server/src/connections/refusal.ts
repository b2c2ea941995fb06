import type { Duplex } from 'node:stream'
import { CloseCode, encodeAuthDenied } from '@rhizome/protocol'
import type { WebSocket } from 'ws'

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
}

/**
 * Refuses an upgrade before the WebSocket handshake: answers `status` (with `reason` as a plain
 * text body when given) and ends the TCP connection.
 */
export function refuseUpgrade(socket: Duplex, status: number, reason?: string): void {
  const head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n`
  socket.end(reason === undefined ? `${head}\r\n` : `${head}Content-Type: text/plain\r\n\r\n${reason}\n`)
}

/**
 * Refuses a completed WebSocket: for 4401/4403 it first sends AUTH permission-denied with the
 * reason (docs/PROTOCOL.md section 3), so stock clients stop retrying; then closes with `code`.
 */
export function refuseSocket(ws: WebSocket, code: number, reason: string): void {
  if (code === CloseCode.UNAUTHORIZED || code === CloseCode.FORBIDDEN) {
    try {
      ws.send(encodeAuthDenied(reason))
    } catch {}
  }
  ws.close(code, reason.slice(0, 120))
}

/**
 * ws closes a socket that sent a frame over `maxPayload` with 1009 while still reading the frame
 * header; docs/PROTOCOL.md section 4 names that case 4413. Rewrites the code on this socket.
 */
export function closeOversizeAs4413(ws: WebSocket): void {
  const close = ws.close.bind(ws)
  ws.close = ((code?: number, reason?: string | Buffer) =>
    close(code === 1009 ? CloseCode.TOO_LARGE : code, reason)) as typeof ws.close
}
