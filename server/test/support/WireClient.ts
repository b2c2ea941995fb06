import { decodeMessage, encodeDocName, type Message } from '@rhizome/protocol'
import WebSocket from 'ws'
import { eventually } from '../../../test/support/poll.mjs'
import { type SocketEnding, watchSocket } from '../../../test/support/socketOutcome.js'

/** How a socket ended (see `watchSocket`). */
export type Ending = SocketEnding

export interface WireOptions {
  /** `rhizome=1` in the query (default true). */
  rhizome?: boolean
  token?: string
  /** Raw path instead of the encoded document name (for hostile names). */
  rawPath?: string
  /** ws client options (e.g. `rejectUnauthorized: false` for a self-signed certificate). */
  ws?: WebSocket.ClientOptions
}

/**
 * A raw protocol client for relay tests: records every frame the relay sends (decoded when it
 * can be) and how the socket ended, and sends whatever bytes a test gives it.
 */
export class WireClient {
  readonly ws: WebSocket
  readonly frames: Uint8Array[] = []
  readonly ending: Promise<Ending>
  readonly opened: Promise<boolean>
  ended: Ending | null = null

  constructor(url: string, name: string, options: WireOptions = {}) {
    const query = new URLSearchParams()
    if (options.rhizome ?? true) query.set('rhizome', '1')
    if (options.token !== undefined) query.set('token', options.token)
    const path = options.rawPath ?? encodeDocName(name)
    this.ws = new WebSocket(`${url}/${path}?${query}`, options.ws)
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('message', (data: Buffer) => {
      this.frames.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice())
    })
    const watched = watchSocket(this.ws, (e) => {
      this.ended = e
    })
    this.opened = watched.opened
    this.ending = watched.ending
  }

  /** Opens a client and waits for the upgrade; throws when it was refused. */
  static async open(url: string, name: string, options: WireOptions = {}): Promise<WireClient> {
    const client = new WireClient(url, name, options)
    if (!(await client.opened)) {
      throw new Error(`socket to ${name} did not open: ${JSON.stringify(await client.ending)}`)
    }
    return client
  }

  /** Every frame decoded; frames that do not decode appear as `null`. */
  get messages(): (Message | null)[] {
    return this.frames.map((f) => {
      try {
        return decodeMessage(f)
      } catch {
        return null
      }
    })
  }

  /** ACKs received, in order. */
  get acks(): { n: number; copies: number }[] {
    const out: { n: number; copies: number }[] = []
    for (const m of this.messages) if (m?.type === 'ack') out.push({ n: m.n, copies: m.copies })
    return out
  }

  /** Sends one binary frame; ignored once the socket is no longer open. */
  send(frame: Uint8Array | Buffer | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame)
  }

  /** Waits for the first message matching `pred`. */
  async waitFor<T extends Message['type']>(
    type: T,
    what: string = type,
    timeout = 10_000,
  ): Promise<Extract<Message, { type: T }>> {
    return eventually(() => this.messages.find((m) => m?.type === type) as Extract<Message, { type: T }>, {
      timeout,
      what,
    })
  }

  /** Waits for the socket to end (close code or HTTP refusal). */
  async waitEnd(timeout = 10_000): Promise<Ending> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket did not end within ${timeout} ms`)), timeout)
    })
    try {
      return await Promise.race([this.ending, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate()
  }
}
