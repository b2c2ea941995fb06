import { randomBytes } from 'node:crypto'
import { CloseCode, MESH_NONCE_BYTES, MESH_PROTOCOL_VERSION, type MeshMessage } from '@rhizome/protocol'
import type { Logger } from '../logger.js'
import { malformedMesh } from './malformedMesh.js'

/** A link that has not authenticated by then is closed. */
const HANDSHAKE_TIMEOUT_MS = 10_000

import {
  deriveLinkKeys,
  type MeshLinkKeys,
  type MeshTranscript,
  meshProof,
  verifyMeshProof,
} from './meshAuth.js'

/** What a handshake needs from the relay's mesh. */
export interface MeshHandshakeHost {
  readonly relayId: string
  readonly storeId: string
  /** The mesh secret both ends prove (docs/PROTOCOL.md, mesh section); empty: no links at all. */
  readonly meshSecret: string
  readonly log: Logger
  /** This relay's dials in progress by their hello nonce (hex); see `PeerLinkHost.dialing`. */
  readonly dialing: ReadonlyMap<string, { leadsBack(): void }>
}

/** What a handshake does to its link. */
export interface MeshHandshakeLink {
  /** The configured URL for dialed links (for logs). */
  readonly url: string | null
  /** Sends a handshake message (plain: no link key exists yet). */
  send(m: MeshMessage): void
  close(code: number, reason: string): void
  /** The link's dialed URL leads back to this relay: log once and close. */
  leadsBack(): void
  /** The peer announced this identity (an acceptor learns it from the hello, a dialer once proved). */
  identified(relayId: string, storeId: string): void
}

/**
 * The mesh handshake of one link (`--mesh-secret`, docs/PROTOCOL.md section 1): `hello` (dialer) -> `challenge`
 * with the acceptor's proof -> `proof` of the dialer, each proof bound to the whole transcript
 * (both relay ids, store ids and nonces, the version and the direction; see meshAuth.ts). It
 * produces the link keys once the peer proved the mesh secret, and refuses links to this relay
 * itself (its own hello or store id coming back) before any proof of ours is sent. A link that
 * has not authenticated within 10 s is closed.
 */
export class MeshHandshake {
  readonly #nonce = randomBytes(MESH_NONCE_BYTES)
  /** Set once the peer's hello (acceptor) or challenge (dialer) is accepted. */
  #transcript: MeshTranscript | null = null
  readonly #timer: ReturnType<typeof setTimeout>

  /** Starts the handshake's timeout; the dialer then sends {@link hello}. */
  constructor(
    readonly role: 'dialer' | 'acceptor',
    private readonly host: MeshHandshakeHost,
    private readonly link: MeshHandshakeLink,
  ) {
    this.#timer = setTimeout(
      () => this.link.close(CloseCode.UNAUTHORIZED, 'mesh handshake timed out'),
      HANDSHAKE_TIMEOUT_MS,
    )
    this.#timer.unref()
  }

  /** Stops the timeout: the link opened or closed. */
  stop(): void {
    clearTimeout(this.#timer)
  }

  /** This handshake's nonce in hex: its key in `host.dialing` while a dial is in progress. */
  get dialKey(): string {
    return this.#nonce.toString('hex')
  }

  /** The dialer's first message; refuses the link instead when this relay has no mesh secret. */
  hello(): void {
    if (!this.host.meshSecret) return this.#refuseWithoutSecret()
    this.link.send({
      type: 'hello',
      version: MESH_PROTOCOL_VERSION,
      relayId: this.host.relayId,
      storeId: this.host.storeId,
      nonce: this.#nonce,
    })
  }

  /**
   * Takes the next handshake message; answers it, or closes the link (4401, or 4400 for an
   * unsupported version) when it is not the expected step or fails its proof.
   * @returns the link keys once the peer proved the secret, otherwise `null`.
   * @throws RhizomeError PROTOCOL_MALFORMED for a nonce of the wrong length.
   */
  step(m: MeshMessage): MeshLinkKeys | null {
    const secret = this.host.meshSecret
    if (!secret) {
      this.#refuseWithoutSecret(m.type === 'hello' ? m.relayId : undefined)
      return null
    }
    const own = { relayId: this.host.relayId, storeId: this.host.storeId, nonce: this.#nonce }
    if (this.role === 'acceptor' && m.type === 'hello' && !this.#transcript) {
      if (m.version !== MESH_PROTOCOL_VERSION) {
        this.link.close(CloseCode.MALFORMED, 'unsupported mesh version')
        return null
      }
      if (m.nonce.length !== MESH_NONCE_BYTES) throw malformedMesh('nonce length')
      // Refused before we send a proof of ours: our own hello came back (a peer URL that leads to
      // us, or someone reflecting it), or someone claims our store.
      const ownDial = this.host.dialing.get(Buffer.from(m.nonce).toString('hex'))
      if (ownDial) {
        ownDial.leadsBack()
        this.link.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
        return null
      }
      if (m.storeId === own.storeId) {
        this.host.log.warn({ claimed: m.relayId }, "refused a mesh hello that claims this relay's own store")
        this.link.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
        return null
      }
      this.link.identified(m.relayId, m.storeId)
      this.#transcript = {
        version: m.version,
        dialer: { relayId: m.relayId, storeId: m.storeId, nonce: m.nonce },
        acceptor: own,
      }
      this.link.send({
        type: 'challenge',
        relayId: own.relayId,
        storeId: own.storeId,
        nonce: own.nonce,
        proof: meshProof(secret, 'acceptor->dialer', this.#transcript),
      })
      return null
    }
    if (this.role === 'acceptor' && m.type === 'proof' && this.#transcript) {
      if (!verifyMeshProof(secret, 'dialer->acceptor', this.#transcript, m.proof)) {
        this.host.log.warn({ peer: this.#transcript.dialer.relayId }, 'peer failed the mesh secret challenge')
        this.link.close(CloseCode.UNAUTHORIZED, 'mesh authentication failed')
        return null
      }
      return this.#keys(secret, this.#transcript)
    }
    if (this.role === 'dialer' && m.type === 'challenge' && !this.#transcript) {
      if (m.nonce.length !== MESH_NONCE_BYTES) throw malformedMesh('nonce length')
      // Our proof is not sent to an acceptor that claims our own store: it would be reflected.
      if (m.storeId === own.storeId) {
        this.link.leadsBack()
        return null
      }
      const transcript: MeshTranscript = {
        version: MESH_PROTOCOL_VERSION,
        dialer: own,
        acceptor: { relayId: m.relayId, storeId: m.storeId, nonce: m.nonce },
      }
      if (!verifyMeshProof(secret, 'acceptor->dialer', transcript, m.proof)) {
        this.host.log.warn({ peer: this.link.url }, 'peer failed the mesh secret challenge')
        this.link.close(CloseCode.UNAUTHORIZED, 'mesh authentication failed')
        return null
      }
      this.#transcript = transcript
      this.link.identified(m.relayId, m.storeId)
      this.link.send({ type: 'proof', proof: meshProof(secret, 'dialer->acceptor', transcript) })
      return this.#keys(secret, transcript)
    }
    this.link.close(CloseCode.UNAUTHORIZED, 'mesh handshake expected')
    return null
  }

  /** The link keys of an authenticated transcript; never for a link between one store and itself. */
  #keys(secret: string, transcript: MeshTranscript): MeshLinkKeys | null {
    const peer = this.role === 'dialer' ? transcript.acceptor : transcript.dialer
    if (peer.storeId === this.host.storeId) {
      this.link.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
      return null
    }
    return deriveLinkKeys(secret, transcript, this.role)
  }

  #refuseWithoutSecret(claimed?: string): void {
    this.host.log.warn(
      { peer: this.link.url ?? claimed },
      'refused a mesh link: this relay has no --mesh-secret',
    )
    this.link.close(CloseCode.UNAUTHORIZED, 'no mesh secret')
  }
}
