import {
  type ChangeEntry,
  decodeSessionMessage,
  encodeSessionMessage,
  SESSION_PROTOCOL_VERSION,
  type SessionCheckpoint,
  type SessionMessage,
} from '@rhizome/protocol'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { eventually } from './poll.mjs'
import { type SocketEnding, watchSocket } from './socketOutcome.js'

/** How a socket ended (see `watchSocket`). */
export type SessionEnding = SocketEnding

type Of<T extends SessionMessage['type']> = Extract<SessionMessage, { type: T }>

/**
 * A raw device-session client for tests (docs/PROTOCOL.md section 7.2): records every frame the
 * relay sends on `/_session` (decoded with the protocol's decoder; `null` for one that does not
 * decode), counts bytes, and sends whatever messages or bytes a test gives it. It keeps no replica
 * of its own unless a test asks for one with {@link SessionClient.replica}.
 */
export class SessionClient {
  readonly ws: WebSocket
  readonly messages: (SessionMessage | null)[] = []
  /** Every frame as received, parallel to {@link messages}. */
  readonly frames: Uint8Array[] = []
  /** Bytes received (frame payloads). */
  bytesIn = 0
  /** When each message arrived (Date.now()), parallel to {@link messages}. */
  readonly arrivals: number[] = []
  readonly ending: Promise<SessionEnding>
  readonly opened: Promise<boolean>
  ended: SessionEnding | null = null
  readonly #replicas = new Map<string, Y.Doc>()

  constructor(url: string, { token }: { token?: string } = {}) {
    const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`
    this.ws = new WebSocket(`${url}/_session${query}`)
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('message', (data: Buffer) => {
      this.bytesIn += data.length
      this.frames.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice())
      let m: SessionMessage | null = null
      try {
        m = decodeSessionMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      } catch {}
      this.messages.push(m)
      this.arrivals.push(Date.now())
      if (m?.type === 'sync' && m.step !== 'step1') {
        const doc = this.#replicas.get(m.doc)
        if (doc) Y.applyUpdate(doc, m.payload, 'relay')
      }
    })
    const watched = watchSocket(this.ws, (e) => {
      this.ended = e
    })
    this.opened = watched.opened
    this.ending = watched.ending
  }

  /** Opens a session and waits for the upgrade; throws when it was refused. */
  static async open(url: string, options: { token?: string } = {}): Promise<SessionClient> {
    const client = new SessionClient(url, options)
    if (!(await client.opened)) {
      throw new Error(`session did not open: ${JSON.stringify(await client.ending)}`)
    }
    return client
  }

  /** Opens a session, sends `hello` and waits for `welcome`. */
  static async connect(
    url: string,
    {
      token,
      checkpoint = null,
      patterns = ['**'],
    }: { token?: string; checkpoint?: SessionCheckpoint | null; patterns?: string[] } = {},
  ): Promise<{ client: SessionClient; welcome: Of<'welcome'> }> {
    const client = await SessionClient.open(url, token === undefined ? {} : { token })
    client.send({ type: 'hello', version: SESSION_PROTOCOL_VERSION, checkpoint, patterns })
    const welcome = await client.waitFor('welcome')
    return { client, welcome }
  }

  /** Sends one session message. */
  send(message: SessionMessage): void {
    this.sendRaw(encodeSessionMessage(message))
  }

  /** Sends raw bytes (or text); ignored once the socket is no longer open. */
  sendRaw(frame: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame)
  }

  /** Messages of one type received so far, optionally filtered. */
  all<T extends SessionMessage['type']>(type: T, pred: (m: Of<T>) => boolean = () => true): Of<T>[] {
    return this.messages.filter((m): m is Of<T> => m?.type === type && pred(m as Of<T>))
  }

  /** Waits for the first message of `type` that satisfies `pred` (counting those already received). */
  async waitFor<T extends SessionMessage['type']>(
    type: T,
    pred: (m: Of<T>) => boolean = () => true,
    { timeout = 10_000, what = type as string }: { timeout?: number; what?: string } = {},
  ): Promise<Of<T>> {
    return eventually(() => this.all(type, pred)[0], { timeout, what })
  }

  /** Every entry of listing round `round`, once its last page arrived. */
  async round(round: number, timeout = 30_000): Promise<ChangeEntry[]> {
    await this.waitFor('changes', (m) => m.round === round && m.last, { timeout, what: `round ${round}` })
    return this.all('changes', (m) => m.round === round).flatMap((m) => m.entries)
  }

  /** Sends a whole document as `sync step2` (a device pushing what the relay lacks). */
  push(doc: string, ydoc: Y.Doc): void {
    this.send({ type: 'sync', doc, step: 'step2', payload: Y.encodeStateAsUpdate(ydoc) })
  }

  /** The latest ACK of `doc` whose `n` is at least `n`, once it has at least `copies`. */
  async waitForAck(doc: string, n: number, copies = 1, timeout = 10_000): Promise<Of<'ack'>> {
    return this.waitFor('ack', (m) => m.doc === doc && m.n >= n && m.copies >= copies, {
      timeout,
      what: `ack of ${doc} n>=${n} copies>=${copies}`,
    })
  }

  /**
   * A Y.Doc that follows `doc`: every sync step2/update of it the relay sends is applied to it
   * (from now on; earlier frames are applied at once).
   */
  replica(doc: string): Y.Doc {
    let ydoc = this.#replicas.get(doc)
    if (!ydoc) {
      const made = new Y.Doc()
      for (const m of this.all('sync', (s) => s.doc === doc && s.step !== 'step1'))
        Y.applyUpdate(made, m.payload)
      this.#replicas.set(doc, made)
      ydoc = made
    }
    return ydoc
  }

  /** Waits for the session to end (close code or HTTP refusal). */
  async waitEnd(timeout = 10_000): Promise<SessionEnding> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`session did not end within ${timeout} ms`)), timeout)
    })
    try {
      return await Promise.race([this.ending, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  close(): void {
    for (const doc of this.#replicas.values()) doc.destroy()
    this.#replicas.clear()
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate()
  }
}
