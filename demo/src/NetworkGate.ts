import type { WebSocketClass } from '@rhizome/client'

type Listener = ((event: Event) => void) | null

/**
 * "Cut this browser off the network" without touching the machine: the replica gets this
 * WebSocket class (`openReplica({ WebSocket })`). While the gate is open it delegates to a real
 * WebSocket; cutting it drops every open socket as a network failure would (close code 1006,
 * no closing handshake the relay could tell apart from a dead link), and every reconnect attempt
 * fails the same way until the gate opens again. The client cannot tell it from a real outage,
 * which is the point: its offline path is what the demo shows.
 */
export class NetworkGate {
  readonly WebSocket: WebSocketClass
  private cutOff = false
  private readonly sockets = new Set<GatedSocket>()
  private readonly listeners = new Set<(cut: boolean) => void>()

  constructor() {
    const gate = this
    this.WebSocket = class extends GatedSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(gate, url, protocols)
      }
    } as unknown as WebSocketClass
  }

  /** True while the browser is cut off. */
  get cut(): boolean {
    return this.cutOff
  }

  /** Cuts (true) or restores (false) every relay connection of this page. */
  setCut(cut: boolean): void {
    if (cut === this.cutOff) return
    this.cutOff = cut
    if (cut) for (const s of [...this.sockets]) s.sever()
    for (const l of this.listeners) l(cut)
  }

  onChange(listener: (cut: boolean) => void): void {
    this.listeners.add(listener)
  }

  /** @internal */
  track(socket: GatedSocket, live: boolean): void {
    if (live) this.sockets.add(socket)
    else this.sockets.delete(socket)
  }
}

/** The subset of the WebSocket interface y-websocket and @rhizome/client use, behind a gate. */
class GatedSocket extends EventTarget {
  readonly CONNECTING = 0
  readonly OPEN = 1
  readonly CLOSING = 2
  readonly CLOSED = 3
  readonly url: string
  onopen: Listener = null
  onmessage: Listener = null
  onerror: Listener = null
  onclose: Listener = null
  private inner: WebSocket | null = null
  private state = 0
  private type: BinaryType = 'arraybuffer'
  private readonly gate: NetworkGate

  constructor(gate: NetworkGate, url: string | URL, protocols?: string | string[]) {
    super()
    this.gate = gate
    this.url = String(url)
    if (gate.cut) {
      // What a browser reports when the network is down: an error, then close 1006.
      setTimeout(() => this.fail(), 0)
      return
    }
    const ws = new WebSocket(url, protocols)
    ws.binaryType = this.type
    this.inner = ws
    gate.track(this, true)
    // After sever() the real socket is no longer ours: its late events are dropped.
    ws.addEventListener('open', () => {
      if (this.inner !== ws) return
      this.state = 1
      this.emit(new Event('open'))
    })
    ws.addEventListener('message', (e) => {
      if (this.inner === ws) this.emit(new MessageEvent('message', { data: e.data }))
    })
    ws.addEventListener('error', () => {
      if (this.inner === ws) this.emit(new Event('error'))
    })
    ws.addEventListener('close', (e) => {
      if (this.inner !== ws) return
      this.state = 3
      gate.track(this, false)
      this.emit(new CloseEvent('close', { code: e.code, reason: e.reason, wasClean: e.wasClean }))
    })
  }

  get readyState(): number {
    return this.state
  }

  get binaryType(): BinaryType {
    return this.type
  }

  set binaryType(type: BinaryType) {
    this.type = type
    if (this.inner) this.inner.binaryType = type
  }

  get bufferedAmount(): number {
    return this.inner?.bufferedAmount ?? 0
  }

  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.state === 1 && this.inner !== null) this.inner.send(data as ArrayBuffer)
  }

  close(code?: number, reason?: string): void {
    if (this.state >= 2) return
    this.state = 2
    this.inner?.close(code, reason)
    if (this.inner === null) this.fail()
  }

  /** The gate was cut: the link is gone now, whatever the real socket does later. */
  sever(): void {
    const ws = this.inner
    if (ws === null || this.state === 3) return
    this.inner = null
    this.gate.track(this, false)
    // Closing a socket that is still connecting makes the browser log a warning; let it open first.
    if (ws.readyState === WebSocket.CONNECTING) ws.addEventListener('open', () => ws.close())
    else ws.close()
    this.fail()
  }

  private fail(): void {
    if (this.state === 3) return
    this.state = 3
    this.emit(new Event('error'))
    this.emit(new CloseEvent('close', { code: 1006, reason: '', wasClean: false }))
  }

  private emit(event: Event): void {
    if (this.state === 3 && event.type !== 'close' && event.type !== 'error') return
    const handler = this[`on${event.type}` as 'onopen' | 'onmessage' | 'onerror' | 'onclose']
    handler?.call(this, event)
    this.dispatchEvent(event)
  }
}
