import {
  decodeMessage,
  encodeDocName,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '@rhizome/protocol'
import WebSocket from 'ws'
import * as Y from 'yjs'

/**
 * A minimal protocol client for tests: one document over one socket with `rhizome=1`, applying
 * what the relay sends and sending local edits, recording every ACK.
 */
export class RawClient {
  readonly doc = new Y.Doc()
  readonly acks: { n: number; copies: number }[] = []
  closeCode: number | null = null
  synced = false
  /** SYNC step2/update messages sent (the ACK counter's n). */
  sent = 0
  readonly ws: WebSocket

  private constructor(url: string, name: string, query: string) {
    this.ws = new WebSocket(`${url}/${encodeDocName(name)}?rhizome=1${query}`)
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('message', (data: Buffer) => {
      const m = decodeMessage(new Uint8Array(data))
      if (m.type === 'sync-step1') {
        this.#send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, m.stateVector)))
      } else if (m.type === 'sync-step2') {
        Y.applyUpdate(this.doc, m.update, this)
        this.synced = true
      } else if (m.type === 'sync-update') {
        Y.applyUpdate(this.doc, m.update, this)
      } else if (m.type === 'ack') {
        this.acks.push({ n: m.n, copies: m.copies })
      }
    })
    this.ws.on('close', (code) => {
      this.closeCode = code
    })
    this.ws.on('error', () => {})
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this && this.ws.readyState === WebSocket.OPEN) this.#send(encodeSyncUpdate(update))
    })
  }

  #send(frame: Uint8Array): void {
    if (frame[0] === 0 && (frame[1] === 1 || frame[1] === 2)) this.sent++
    this.ws.send(frame)
  }

  /** Connects and completes the initial sync. */
  static async connect(url: string, name: string, { token }: { token?: string } = {}): Promise<RawClient> {
    const client = new RawClient(url, name, token ? `&token=${encodeURIComponent(token)}` : '')
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve())
      client.ws.once('error', reject)
    })
    client.ws.send(encodeSyncStep1(Y.encodeStateVector(client.doc)))
    const deadline = Date.now() + 10_000
    while (!client.synced) {
      if (client.closeCode !== null) throw new Error(`closed with ${client.closeCode} before sync`)
      if (Date.now() > deadline) throw new Error(`no sync from ${url} for ${name}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    return client
  }

  /** Highest copies acknowledged for everything sent so far (0 when not acknowledged). */
  copiesOfAll(): number {
    let best = 0
    for (const a of this.acks) if (a.n >= this.sent) best = Math.max(best, a.copies)
    return best
  }

  /** Waits until everything sent so far is acknowledged with at least `copies`. */
  async waitForCopies(copies: number, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout
    while (this.copiesOfAll() < copies) {
      if (Date.now() > deadline) {
        throw new Error(
          `copies ${this.copiesOfAll()} < ${copies} after ${timeout} ms (acks ${JSON.stringify(this.acks.slice(-3))})`,
        )
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  close(): void {
    this.ws.close()
    this.doc.destroy()
  }
}

/** Reads a document's text `t` (and digest-relevant state) from a relay through a fresh socket. */
export async function readDoc(url: string, name: string, token?: string): Promise<Y.Doc> {
  const client = await RawClient.connect(url, name, token ? { token } : {})
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(client.doc))
  client.close()
  return doc
}

/** GET /healthz as JSON. */
export async function health(httpUrl: string): Promise<{
  ok: boolean
  id: string
  docs: number
  peers: { url: string; id: string | null; connected: boolean }[]
  recovering: boolean
}> {
  const res = await fetch(`${httpUrl}/healthz`)
  return res.json() as never
}
