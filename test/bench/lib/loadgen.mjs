// The load generator shared by every server: one WebSocket per document, speaking the y-websocket
// protocol (Rhizome, @y/websocket-server) or Hocuspocus' framing (document name before each
// message, an Auth message first). The same code drives every server, so the client-side cost is
// identical and figures are comparable.
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'

const SYNC = 0
const AUTH = 2
const ACK = 100
const STEP1 = 0
const STEP2 = 1
const UPDATE = 2
/** The update of an empty document: what a client without local state answers a step1 with. */
const EMPTY_UPDATE = new Uint8Array([0, 0])
const EMPTY_SV = new Uint8Array([0])

/**
 * A cheap identity of an update that survives the server re-encoding it: the client id and clock of
 * its first struct (or, for a delete-only update, of its first deleted range). Writers and readers
 * compute it on the same update to measure end-to-end latency.
 */
export function updateKey(update) {
  const d = decoding.createDecoder(update)
  const groups = decoding.readVarUint(d)
  if (groups > 0) {
    decoding.readVarUint(d) // number of structs
    const client = decoding.readVarUint(d)
    return `s${client}:${decoding.readVarUint(d)}`
  }
  const clients = decoding.readVarUint(d)
  if (clients === 0) return null
  const client = decoding.readVarUint(d)
  decoding.readVarUint(d) // number of ranges
  return `d${client}:${decoding.readVarUint(d)}`
}

/** FNV-1a over the bytes with a seed; two seeds summed per reader give an order-free multiset hash. */
export function fnv(bytes, seed) {
  let h = seed >>> 0
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]
    h = Math.imul(h, 16777619) >>> 0
  }
  return h
}

/**
 * One document over one socket.
 * Options: `onUpdate(update, kind)` for every received update (`kind` 'step2' or 'update');
 * `onAck(n, copies)` for Rhizome ACKs (asks for them with `?rhizome=1`).
 */
export class BenchClient {
  /** SYNC step2/update messages sent: the `n` of Rhizome's ACK. */
  sent = 0
  synced = false
  closeCode = null

  constructor(server, name, { onUpdate = null, onAck = null, onSynced = null } = {}) {
    this.server = server
    this.name = name
    this.hocuspocus = server.protocol === 'hocuspocus'
    this.onUpdate = onUpdate
    this.onAck = onAck
    this.onSynced = onSynced
    const query = onAck ? '?rhizome=1' : ''
    this.ws = new WebSocket(`${server.url}/${name}${query}`, { perMessageDeflate: false })
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('message', (data) => this.#onMessage(data))
    this.ws.on('close', (code) => {
      this.closeCode = code
    })
    this.ws.on('error', () => {})
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve)
      this.ws.once('error', reject)
    })
  }

  /** Connects and completes the initial sync (the server's step2 arrived). */
  static async open(server, name, options = {}, timeout = 30_000) {
    const client = new BenchClient(server, name, options)
    await client.opened
    client.start()
    await client.whenSynced(timeout)
    return client
  }

  /** Sends what a fresh client sends on open. */
  start() {
    if (this.hocuspocus) {
      // Auth (type 2), sub-type token (0), empty token: Hocuspocus waits for it before anything else.
      this.#send((e) => {
        encoding.writeVarUint(e, AUTH)
        encoding.writeVarUint(e, 0)
        encoding.writeVarString(e, '')
      })
    }
    this.#sendSync(STEP1, EMPTY_SV)
  }

  async whenSynced(timeout = 30_000) {
    const deadline = Date.now() + timeout
    while (!this.synced) {
      if (this.closeCode !== null)
        throw new Error(`${this.server.kind}: closed ${this.closeCode} before sync`)
      if (Date.now() > deadline) throw new Error(`${this.server.kind}: no sync for ${this.name}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  /** Sends a live update; returns its ACK counter `n`. */
  send(update) {
    this.#sendSync(UPDATE, update)
    return this.sent
  }

  get bufferedAmount() {
    return this.ws.bufferedAmount
  }

  close() {
    this.ws.close()
  }

  #sendSync(step, payload) {
    if (step !== STEP1) this.sent++
    this.#send((e) => {
      encoding.writeVarUint(e, SYNC)
      encoding.writeVarUint(e, step)
      encoding.writeVarUint8Array(e, payload)
    })
  }

  #send(write) {
    const e = encoding.createEncoder()
    if (this.hocuspocus) encoding.writeVarString(e, this.name)
    write(e)
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encoding.toUint8Array(e))
  }

  #onMessage(data) {
    const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    if (this.hocuspocus) decoding.readVarString(d)
    const type = decoding.readVarUint(d)
    if (type === SYNC) {
      const step = decoding.readVarUint(d)
      if (step === STEP1) {
        this.#sendSync(STEP2, EMPTY_UPDATE)
      } else if (step === STEP2 || step === UPDATE) {
        const update = decoding.readVarUint8Array(d)
        this.onUpdate?.(update, step === STEP2 ? 'step2' : 'update')
        if (step === STEP2 && !this.synced) {
          this.synced = true
          this.onSynced?.()
        }
      }
    } else if (type === ACK && this.onAck) {
      const n = decoding.readVarUint(d)
      this.onAck(n, decoding.readVarUint(d))
    }
  }
}

/** Opens `count` clients with at most `parallel` handshakes in flight. */
export async function openMany(count, make, parallel = 50) {
  const out = new Array(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      out[i] = await make(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker))
  return out
}
