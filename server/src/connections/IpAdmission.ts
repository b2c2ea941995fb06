import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * Counts the open connections of each remote address against `--max-connections-per-ip`. A socket
 * is counted from its upgrade until it closes, mesh sockets included: before its handshake a
 * `/_mesh` socket is anyone's.
 */
export class IpAdmission {
  readonly #open = new Map<string, number>()

  constructor(private readonly maxPerIp: number) {}

  /** Counts `socket` until it closes; false (nothing counted) when its address is at the limit. */
  admit(req: IncomingMessage, socket: Duplex): boolean {
    const ip = req.socket.remoteAddress ?? 'unknown'
    const count = this.#open.get(ip) ?? 0
    if (count >= this.maxPerIp) return false
    this.#open.set(ip, count + 1)
    socket.once('close', () => {
      const left = (this.#open.get(ip) ?? 1) - 1
      if (left <= 0) this.#open.delete(ip)
      else this.#open.set(ip, left)
    })
    return true
  }
}
