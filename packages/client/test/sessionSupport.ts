import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { get } from 'node:http'
import * as Y from 'yjs'
import type { Replica, WebSocketClass } from '../src/index.js'

/**
 * Established TCP connections of THIS process to each of `ports` on loopback: the sockets listed in
 * /proc/net/tcp (and tcp6) whose inode is one of this process's file descriptors.
 */
export function tcpConnectionsTo(ports: readonly number[]): Map<number, number> {
  const inodes = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (m) inodes.add(m[1]!)
    } catch {
      // the fd closed meanwhile
    }
  }
  const counts = new Map<number, number>(ports.map((p) => [p, 0]))
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10) continue
      const remotePort = Number.parseInt(cols[2]!.split(':')[1]!, 16)
      const established = cols[3] === '01'
      if (established && counts.has(remotePort) && inodes.has(cols[9]!)) {
        counts.set(remotePort, counts.get(remotePort)! + 1)
      }
    }
  }
  return counts
}

/** A WebSocket class that counts the sockets that opened, per URL (without the query). */
export function countingWebSocket(Base: WebSocketClass): {
  WebSocket: WebSocketClass
  opens: Map<string, number>
} {
  const opens = new Map<string, number>()
  class CountingWebSocket extends (Base as new (
    url: string | URL,
    protocols?: string | string[],
  ) => WebSocket) {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      const key = String(url).split('?')[0]!
      this.addEventListener('open', () => opens.set(key, (opens.get(key) ?? 0) + 1))
    }
  }
  return { WebSocket: CountingWebSocket as unknown as WebSocketClass, opens }
}

/** The update of a small document whose text `t` is `text`. */
export function docUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/** The text `t` of a stored document, read from the store without opening it. */
export async function storedText(replica: Replica, name: string): Promise<string | null> {
  const update = await replica.store.getUpdate(name)
  if (update === null) return null
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const text = doc.getText('t').toString()
  doc.destroy()
  return text
}

/** Writes `count` documents `${prefix}${i}` (text `content of <name>`) straight into the replica's store. */
export async function seedDocs(replica: Replica, prefix: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`)
  await Promise.all(names.map((name) => replica.store.append(name, docUpdate(`content of ${name}`))))
  return names
}

/** A counter (or gauge) of a relay's /metrics, summed over the series whose labels include `labels`. */
export async function relayMetric(
  httpUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await httpText(`${httpUrl}/metrics`)
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.e+-]+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const set = m[2] ?? ''
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3])
  }
  return sum
}

/** The number of documents a relay stores (`/healthz`). */
export async function relayDocCount(httpUrl: string): Promise<number> {
  const health = JSON.parse(await httpText(`${httpUrl}/healthz`)) as { docs: number }
  return health.docs
}

/**
 * GET without keep-alive: a pooled HTTP connection to a relay's port would count as one more
 * connection of this process to that relay in {@link tcpConnectionsTo}.
 */
function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve(body))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}
