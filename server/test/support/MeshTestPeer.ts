import { randomBytes, randomUUID } from 'node:crypto'
import {
  decodeMeshMessage,
  encodeMeshMessage,
  MESH_NONCE_BYTES,
  MESH_PROTOCOL_VERSION,
  type MeshMessage,
} from '@rhizome/protocol'
import WebSocket from 'ws'
import { MeshSession } from '../../src/mesh/MeshSession.js'
import { deriveLinkKeys, type MeshTranscript, meshProof, verifyMeshProof } from '../../src/mesh/meshAuth.js'

/** How a socket ended. */
export interface PeerEnding {
  code: number
  reason: string
}

/**
 * A legitimate peer, as far as the relay can tell: it holds the mesh secret, dials `/_mesh` and
 * completes the handshake. Tests then make it misbehave on the open link (tampered, replayed,
 * reordered or reflected frames) and watch how the relay ends the link.
 */
export class MeshTestPeer {
  /** Messages the relay sent on the open link, after their seals checked out. */
  readonly received: MeshMessage[] = []
  /** The relay's sealed wire frames, as they arrived. */
  readonly sealedFrames: Uint8Array[] = []
  readonly ended: Promise<PeerEnding>
  ending: PeerEnding | null = null
  #session: MeshSession | null = null

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer'
    ws.on('error', () => {})
    this.ended = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.ending = { code, reason: reason.toString() }
        resolve(this.ending)
      }),
    )
  }

  /** Dials the relay and completes the handshake as a dialer with `secret`. */
  static async connect(url: string, secret: string): Promise<MeshTestPeer> {
    const peer = new MeshTestPeer(new WebSocket(`${url}/_mesh`))
    const own = { relayId: 'test-peer', storeId: randomUUID(), nonce: randomBytes(MESH_NONCE_BYTES) }
    await new Promise<void>((resolve, reject) => {
      peer.ws.once('open', () => resolve())
      peer.ws.once('error', reject)
    })
    const opened = new Promise<void>((resolve, reject) => {
      peer.ws.on('message', (data: Buffer) => {
        const frame = new Uint8Array(data)
        if (peer.#session) {
          peer.sealedFrames.push(frame)
          peer.received.push(decodeMeshMessage(peer.#session.open(decodeMeshMessage(frame))))
          return
        }
        const m = decodeMeshMessage(frame)
        if (m.type !== 'challenge') return reject(new Error(`expected a challenge, got ${m.type}`))
        const t: MeshTranscript = {
          version: MESH_PROTOCOL_VERSION,
          dialer: own,
          acceptor: { relayId: m.relayId, storeId: m.storeId, nonce: m.nonce },
        }
        if (!verifyMeshProof(secret, 'acceptor->dialer', t, m.proof))
          return reject(new Error('the relay failed its proof'))
        peer.ws.send(encodeMeshMessage({ type: 'proof', proof: meshProof(secret, 'dialer->acceptor', t) }))
        peer.#session = new MeshSession(deriveLinkKeys(secret, t, 'dialer'))
        resolve()
      })
      void peer.ended.then((e) => reject(new Error(`closed ${e.code} ${e.reason} during the handshake`)))
    })
    peer.ws.send(encodeMeshMessage({ type: 'hello', version: MESH_PROTOCOL_VERSION, ...own }))
    await opened
    return peer
  }

  /** Seals `m` for the next outbound sequence number without sending it (the number is used up). */
  seal(m: MeshMessage): Uint8Array {
    if (!this.#session) throw new Error('not open')
    return this.#session.seal(encodeMeshMessage(m))
  }

  /** Seals and sends `m`. */
  send(m: MeshMessage): void {
    this.sendRaw(this.seal(m))
  }

  /** Sends bytes as one WebSocket frame, exactly as given. */
  sendRaw(frame: Uint8Array): void {
    this.ws.send(frame)
  }

  close(): void {
    this.ws.terminate()
  }
}
