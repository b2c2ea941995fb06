import { decodeMessage, encodeSyncStep1, encodeSyncUpdate } from '@rhizome/protocol'
import * as Y from 'yjs'
import { eventually } from '../../../test/support/poll.mjs'
import { WireClient, type WireOptions } from './WireClient.js'

const RELAY = Symbol('relay')

/**
 * A well-behaved client on one document over a {@link WireClient}: keeps a Y.Doc in step with what
 * the relay sends, sends its local edits, records ACKs, and can also send raw updates (counted in n
 * like any SYNC update, PROTOCOL.md section 3).
 */
export class SyncSocket {
  readonly doc = new Y.Doc()
  /** `n` of every ACK received, in order. */
  readonly acks: number[] = []
  /** SYNC step2/update messages sent so far: the n of the last one. */
  sent = 0
  #step2s = 0

  constructor(readonly client: WireClient) {
    client.ws.on('message', (data: Buffer) => {
      const m = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      if (m.type === 'sync-step2') {
        Y.applyUpdate(this.doc, m.update, RELAY)
        this.#step2s++
      } else if (m.type === 'sync-update') Y.applyUpdate(this.doc, m.update, RELAY)
      else if (m.type === 'ack') this.acks.push(m.n)
    })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== RELAY) this.sendUpdate(update)
    })
  }

  /** Opens a socket and waits until it holds the relay's state. */
  static async open(url: string, name: string, options: WireOptions = {}): Promise<SyncSocket> {
    const s = new SyncSocket(await WireClient.open(url, name, options))
    await s.roundTrip()
    return s
  }

  /** Sends `update` as a SYNC update; returns its n. */
  sendUpdate(update: Uint8Array): number {
    this.client.send(encodeSyncUpdate(update))
    return ++this.sent
  }

  /**
   * Sends a step1 and waits for the relay's step2 answer: the relay has processed every frame sent
   * before, and every frame it sent on this socket before the answer has arrived.
   */
  async roundTrip(what = 'sync step 2'): Promise<void> {
    const before = this.#step2s
    this.client.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    await eventually(() => this.#step2s > before || this.client.ended !== null, { what })
    if (this.client.ended) throw new Error(`socket closed with ${this.client.ended.code} during ${what}`)
  }

  /** True once an ACK covers message n. */
  acked(n: number): boolean {
    return this.acks.some((a) => a >= n)
  }

  close(): void {
    this.client.close()
    this.doc.destroy()
  }
}
