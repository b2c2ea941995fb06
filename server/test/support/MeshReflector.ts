import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { decodeMeshMessage, encodeMeshMessage, type MeshMessage } from '@rhizome/protocol'
import WebSocket, { WebSocketServer } from 'ws'

/**
 * How the reflector rewrites the victim's handshake before passing it back to the victim:
 * - `forward`: passes hello, challenge and proof through unchanged;
 * - `rewrite-store`: claims another store id in the hello and in the challenge (the victim refuses
 *   its own store id, so this is what an attacker does first);
 * - `fresh-nonce`: as `rewrite-store`, and replaces the hello's nonce with one of its own.
 */
export type ReflectStrategy = 'forward' | 'rewrite-store' | 'fresh-nonce'

export const REFLECT_STRATEGIES: readonly ReflectStrategy[] = ['forward', 'rewrite-store', 'fresh-nonce']

/** What one dial of the victim into the reflector produced. */
export interface ReflectAttempt {
  strategy: ReflectStrategy
  /** Handshake messages the reflector passed on, in order (`d>` to the victim's acceptor, `a>` to its dialer). */
  relayed: string[]
  /** Types of every mesh message the victim sent after the handshake, on either socket. */
  afterHandshake: string[]
  /** Every byte the victim sent on either socket, for leak checks. */
  bytes: Buffer[]
}

const FAKE_STORE = 'reflector-store'

/**
 * An attacker answering at one of the victim relay's `--peers` URLs. When the victim dials it, it
 * opens its own `/_mesh` connection to the victim and relays the handshake between the two
 * sockets (rewritten per {@link ReflectStrategy}), so that the victim authenticates to itself.
 * Once the handshake messages are through it stops relaying and asks both sockets for `docName`
 * (a `step1`), as an attacker who got a link would. Strategies rotate per dial.
 */
export class MeshReflector {
  readonly attempts: ReflectAttempt[] = []
  readonly #wss: WebSocketServer
  readonly #sockets = new Set<WebSocket>()

  /** The victim's base URL; dials that arrive before it is set are dropped. */
  victimUrl = ''

  private constructor(
    wss: WebSocketServer,
    readonly docName: string,
  ) {
    this.#wss = wss
    wss.on('connection', (dialer) => this.#onVictimDialed(dialer))
  }

  /** Listens on a free loopback port. */
  static async listen(docName: string): Promise<MeshReflector> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
    return new MeshReflector(wss, docName)
  }

  /** The URL to put in the victim's `--peers`. */
  get url(): string {
    return `ws://127.0.0.1:${(this.#wss.address() as AddressInfo).port}`
  }

  #onVictimDialed(dialer: WebSocket): void {
    if (this.victimUrl === '') {
      dialer.terminate()
      return
    }
    const strategy = REFLECT_STRATEGIES[this.attempts.length % REFLECT_STRATEGIES.length]!
    const attempt: ReflectAttempt = { strategy, relayed: [], afterHandshake: [], bytes: [] }
    this.attempts.push(attempt)
    const acceptor = new WebSocket(`${this.victimUrl}/_mesh`)
    for (const ws of [dialer, acceptor]) {
      this.#sockets.add(ws)
      ws.binaryType = 'nodebuffer'
      ws.on('error', () => {})
    }
    const closeBoth = () => {
      dialer.terminate()
      acceptor.terminate()
    }
    dialer.on('close', closeBoth)
    acceptor.on('close', closeBoth)
    let handshakeDone = false
    const pendingToAcceptor: Uint8Array[] = []
    const toAcceptor = (frame: Uint8Array) => {
      if (acceptor.readyState === WebSocket.OPEN) acceptor.send(frame)
      else pendingToAcceptor.push(frame)
    }
    acceptor.on('open', () => {
      for (const f of pendingToAcceptor.splice(0)) acceptor.send(f)
    })
    const afterHandshake = () => {
      handshakeDone = true
      // What an attacker with a link does: ask for the document on both sockets.
      const pull = encodeMeshMessage({ type: 'step1', name: this.docName, stateVector: new Uint8Array([0]) })
      for (const ws of [dialer, acceptor]) if (ws.readyState === WebSocket.OPEN) ws.send(pull)
    }
    const record = (data: Buffer): MeshMessage | null => {
      attempt.bytes.push(Buffer.from(data))
      try {
        return decodeMeshMessage(new Uint8Array(data))
      } catch {
        if (handshakeDone) attempt.afterHandshake.push('undecodable')
        return null
      }
    }
    // The victim's dialer side speaks first (hello), then answers the challenge with its proof.
    dialer.on('message', (data: Buffer) => {
      const m = record(data)
      if (handshakeDone || m === null) {
        if (m) attempt.afterHandshake.push(m.type)
        return
      }
      if (m.type === 'hello') {
        const hello =
          strategy === 'forward'
            ? m
            : { ...m, storeId: FAKE_STORE, nonce: strategy === 'fresh-nonce' ? randomBytes(32) : m.nonce }
        attempt.relayed.push('d>hello')
        toAcceptor(encodeMeshMessage(hello))
      } else if (m.type === 'proof') {
        attempt.relayed.push('d>proof')
        toAcceptor(encodeMeshMessage(m))
        afterHandshake()
      } else {
        attempt.afterHandshake.push(m.type)
      }
    })
    acceptor.on('message', (data: Buffer) => {
      const m = record(data)
      if (handshakeDone || m === null) {
        if (m) attempt.afterHandshake.push(m.type)
        return
      }
      if (m.type === 'challenge') {
        const challenge = strategy === 'forward' ? m : { ...m, storeId: FAKE_STORE }
        attempt.relayed.push('a>challenge')
        if (dialer.readyState === WebSocket.OPEN) dialer.send(encodeMeshMessage(challenge))
      } else {
        attempt.afterHandshake.push(m.type)
      }
    })
  }

  /** Closes every socket and the listener. */
  async close(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate()
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
  }
}
