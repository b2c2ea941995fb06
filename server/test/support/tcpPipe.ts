import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

/** A TCP forwarder on loopback: every connection to it is piped, byte for byte, to a target port. */
export interface TcpPipe {
  /** `ws://127.0.0.1:PORT` of the pipe's own port. */
  readonly url: string
  /** Connections accepted so far. */
  readonly connections: number
  /** The port to forward to; connections that arrive while it is 0 are dropped. */
  targetPort: number
  close(): Promise<void>
}

/** Starts a {@link TcpPipe} on a free loopback port (what a stale DNS name or a port squatter looks like). */
export async function startTcpPipe(targetPort = 0): Promise<TcpPipe> {
  const sockets = new Set<Socket>()
  let connections = 0
  const pipe = {
    targetPort,
    url: '',
    get connections() {
      return connections
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  const server = createServer((inbound) => {
    connections++
    sockets.add(inbound)
    inbound.on('close', () => sockets.delete(inbound))
    inbound.on('error', () => {})
    if (pipe.targetPort === 0) {
      inbound.destroy()
      return
    }
    const outbound = connect(pipe.targetPort, '127.0.0.1')
    sockets.add(outbound)
    outbound.on('close', () => {
      sockets.delete(outbound)
      inbound.destroy()
    })
    outbound.on('error', () => inbound.destroy())
    inbound.on('close', () => outbound.destroy())
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  pipe.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  return pipe
}
