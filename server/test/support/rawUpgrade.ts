import { connect } from 'node:net'

/**
 * Sends a WebSocket upgrade request with `path` exactly as given (no URL normalisation, so
 * `..`, `%2e%2e` and backslashes reach the relay untouched) and resolves with the HTTP status.
 */
export function rawUpgradeStatus(port: number, path: string, timeout = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let head = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no HTTP answer for ${path}`))
    }, timeout)
    const done = (status: number) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(status)
    }
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
    })
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      head += chunk
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head)
      if (m) done(Number(m[1]))
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      reject(new Error(`connection closed without an HTTP status for ${path}`))
    })
  })
}
