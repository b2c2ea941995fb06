import { randomBytes } from 'node:crypto'
import {
  CloseCode,
  chunkMeshFrame,
  closeCodeFor,
  decodeMeshMessage,
  EMPTY_STATE_VECTOR,
  EMPTY_UPDATE,
  ErrorCode,
  encodeMeshMessage,
  isRhizomeError,
  isValidDocName,
  MESH_NONCE_BYTES,
  MESH_PROTOCOL_VERSION,
  type MeshMessage,
  type MeshTombstone,
  RhizomeError,
} from '@rhizome/protocol'
import type { WebSocket } from 'ws'
import type { AckSource } from '../docs/AckTracker.js'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { MeshSession } from './MeshSession.js'
import { deriveLinkKeys, type MeshTranscript, meshProof, verifyMeshProof } from './meshAuth.js'
import { tombstonePages } from './meshTombstones.js'

/** Catalog entries per page. */
const CATALOG_PAGE = 256
/** Pull requests (step1) in flight per link. */
const MAX_PULLS = 32
/** Outbound bytes before the catalog stream waits for the socket to drain. */
const SEND_HIGH_WATER = 1024 * 1024
/** Outbound bytes after which a peer is too slow: the link is dropped and anti-entropy catches up later. */
const SLOW_PEER_BYTES = 64 * 1024 * 1024
/** Inbound frames queued before the socket is paused. */
const INBOUND_HIGH_WATER = 256
/** A link that has not authenticated by then is closed. */
const HANDSHAKE_TIMEOUT_MS = 10_000
/** Largest message reassembled from chunks. */
const MAX_REASSEMBLED_BYTES = 1024 * 1024 * 1024

function malformedMesh(detail: string): RhizomeError {
  return new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `malformed mesh message: ${detail}`)
}

/** What a link needs from the relay's mesh. */
export interface PeerLinkHost {
  readonly relayId: string
  readonly storeId: string
  /** The mesh secret both ends prove (docs/PROTOCOL.md, mesh section); empty: no links at all. */
  readonly meshSecret: string
  readonly log: Logger
  readonly metrics: RelayMetrics
  /** This relay's catalog, in name order; a null digest marks a corrupt document. */
  catalog(): AsyncIterable<{ name: string; digest: string | null }>
  /** Every tombstone record (deleted and undeleted documents), sent before each catalog round. */
  tombstones(): MeshTombstone[]
  /** Merges tombstone records the peer sent, before anything later on the link is handled. */
  mergeTombstones(link: PeerLink, entries: MeshTombstone[]): Promise<void>
  /** Resolves once everything applied so far to loaded documents is committed. */
  whenAllCommitted(): Promise<void>
  matchesDigest(name: string, digest: string): Promise<boolean>
  stateVectorOf(name: string): Promise<Uint8Array>
  diffOf(name: string, stateVector: Uint8Array): Promise<Uint8Array>
  /** Applies what the peer sent; resolves to the commit that makes it durable. */
  applyFromPeer(
    link: PeerLink,
    name: string,
    update: Uint8Array,
    isPull: boolean,
  ): Promise<{ committed: Promise<void> }>
  onLinkOpen(link: PeerLink): void
  onLinkClosed(link: PeerLink, wasOpen: boolean): void
  /** A full catalog of the peer's was pulled and made durable. */
  onRoundPulled(link: PeerLink): void
  /** The peer acknowledged more: client ACKs waiting for copies re-evaluate. */
  onPeerAck(): void
  /**
   * This relay's dials in progress by their hello nonce (hex): a hello that carries one of them came
   * back to this relay (a peer URL that leads to itself, or a reflection). One map per relay, so
   * relays in one process never mistake each other's dials for their own.
   */
  readonly dialing: Map<string, PeerLink>
}

/**
 * One authenticated relay-to-relay WebSocket. Both ends run the same replication: each streams its
 * catalog, pulls what differs from the other's catalog, forwards live updates and acknowledges
 * what it made durable. Bookkeeping lives only as long as the link and is tied to the peer's store
 * identity, so a peer that lost its disk starts from nothing.
 */
export class PeerLink implements AckSource {
  peerRelayId = ''
  peerStoreId = ''
  /** Highest sequence number the peer acknowledged as durable. */
  ackedSeq = 0
  /** Last sequence number sent. */
  sentSeq = 0
  /** The peer pulled a full catalog of ours: from now on its acks mean it holds our state. */
  peerSynced = false
  /** We pulled a full catalog of the peer's. */
  pulledRounds = 0
  state: 'handshake' | 'open' | 'closed' = 'handshake'
  readonly #nonce = randomBytes(MESH_NONCE_BYTES)
  /** Set once the peer's hello (acceptor) or challenge (dialer) is accepted. */
  #transcript: MeshTranscript | null = null
  /** Seals and opens every frame once the link is open. */
  #session: MeshSession | null = null
  #inbound: Uint8Array[] = []
  #draining = false
  #paused = false
  #round = 0
  // Pull side of the current round.
  #pullQueue: string[] = []
  #pullsInFlight = new Map<string, number>()
  #catalogDone = false
  #pullingRound = 0
  // Durability of what the peer sent us: seqs applied, in order, each with its commit promise.
  #durable: { seq: number; done: boolean }[] = []
  #ackedOut = 0
  // Chunks of a large message being reassembled.
  #chunks: Uint8Array[] = []
  #chunkBytes = 0
  readonly #handshakeTimer: ReturnType<typeof setTimeout>
  #drainWaiters: (() => void)[] = []
  #durableWaiters: { seq: number; resolve: () => void }[] = []

  constructor(
    readonly ws: WebSocket,
    readonly role: 'dialer' | 'acceptor',
    private readonly host: PeerLinkHost,
    /** The configured URL for dialed links. */
    readonly url: string | null,
  ) {
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data: Buffer) =>
      this.#onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
    )
    ws.on('close', () => this.#onClose())
    ws.on('error', () => this.#onClose())
    this.#handshakeTimer = setTimeout(() => {
      if (this.state === 'handshake') this.close(CloseCode.UNAUTHORIZED, 'mesh handshake timed out')
    }, HANDSHAKE_TIMEOUT_MS)
    this.#handshakeTimer.unref()
    if (role === 'dialer') {
      this.host.dialing.set(this.#nonce.toString('hex'), this)
      const hello = () => {
        if (!host.meshSecret) return this.#refuseWithoutSecret()
        this.#send({
          type: 'hello',
          version: MESH_PROTOCOL_VERSION,
          relayId: host.relayId,
          storeId: host.storeId,
          nonce: this.#nonce,
        })
      }
      if (ws.readyState === ws.OPEN) hello()
      else ws.once('open', hello)
    }
  }

  get open(): boolean {
    return this.state === 'open'
  }

  #send(m: MeshMessage): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    // What is already queued decides: a peer that has not read 64 MiB is too slow, whatever the size
    // of this message (a large document must still get through to a healthy peer).
    if (this.ws.bufferedAmount > SLOW_PEER_BYTES) {
      this.close(CloseCode.TRANSIENT, 'peer too slow')
      return
    }
    if (m.type === 'update' || m.type === 'step2') {
      this.host.metrics.replicationBytes.inc({ peer: this.peerRelayId, direction: 'out' }, m.update.length)
    }
    // Each wire frame (each chunk) is sealed on its own, so a receiver authenticates every frame
    // before it buffers any of it.
    const session = this.#session
    for (const frame of chunkMeshFrame(encodeMeshMessage(m)))
      this.ws.send(session ? session.seal(frame) : frame, this.#onFrameWritten)
  }

  /** Closes the link; the dialer side reconnects with backoff. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return
    this.ws.close(code, reason)
    this.#onClose()
  }

  #onClose(): void {
    if (this.state === 'closed') return
    clearTimeout(this.#handshakeTimer)
    this.host.dialing.delete(this.#nonce.toString('hex'))
    this.#chunks = []
    const wasOpen = this.state === 'open'
    this.state = 'closed'
    this.ws.terminate()
    this.#onFrameWritten()
    this.#wakeDurableWaiters()
    this.host.onLinkClosed(this, wasOpen)
  }

  #onFrame(frame: Uint8Array): void {
    this.#inbound.push(frame)
    if (this.#inbound.length > INBOUND_HIGH_WATER && !this.#paused) {
      this.#paused = true
      this.ws.pause()
    }
    if (!this.#draining) void this.#drain()
  }

  async #drain(): Promise<void> {
    this.#draining = true
    try {
      while (this.#inbound.length > 0 && this.state !== 'closed') {
        const frame = this.#inbound.shift()!
        if (this.#paused && this.#inbound.length < INBOUND_HIGH_WATER / 2) {
          this.#paused = false
          this.ws.resume()
        }
        try {
          const message = this.#reassemble(this.#unseal(decodeMeshMessage(frame)))
          if (message) await this.#handle(message)
        } catch (err) {
          if (isRhizomeError(err, ErrorCode.AUTH_INVALID)) {
            // Not from the holder of this link's key (or replayed, reordered, reflected): 4401 like
            // a failed handshake, while 4400 stays for authentic frames a peer got wrong.
            this.host.log.warn({ peer: this.peerRelayId, err: err.message }, 'unauthenticated mesh frame')
            this.close(closeCodeFor(err), 'mesh frame failed authentication')
          } else if (isRhizomeError(err) && err.code === 'PROTOCOL_MALFORMED') {
            this.host.log.warn({ peer: this.peerRelayId, err: err.message }, 'malformed mesh message')
            this.close(CloseCode.MALFORMED, err.message)
          } else {
            this.host.log.error({ err, peer: this.peerRelayId }, 'mesh message failed')
            this.close(CloseCode.TRANSIENT, 'relay error')
          }
          return
        }
      }
    } finally {
      this.#draining = false
    }
  }

  /** Before the handshake ends frames are plain; after it, each must be sealed under the link's key. */
  #unseal(m: MeshMessage): MeshMessage {
    if (this.#session) return decodeMeshMessage(this.#session.open(m))
    if (m.type === 'sealed') throw malformedMesh('sealed frame before the handshake')
    return m
  }

  /** Collects chunks; returns the message once whole (or at once when it was not chunked). */
  #reassemble(m: MeshMessage): MeshMessage | null {
    if (m.type !== 'chunk') {
      if (this.#chunks.length > 0) throw malformedMesh('a message interrupted a chunked message')
      return m
    }
    // Only an authenticated peer may make us buffer more than one frame.
    if (this.state !== 'open') throw malformedMesh('chunk before the handshake')
    this.#chunks.push(m.bytes)
    this.#chunkBytes += m.bytes.length
    if (this.#chunkBytes > MAX_REASSEMBLED_BYTES) throw malformedMesh('chunked message too large')
    if (!m.last) return null
    const whole = new Uint8Array(this.#chunkBytes)
    let at = 0
    for (const c of this.#chunks) {
      whole.set(c, at)
      at += c.length
    }
    this.#chunks = []
    this.#chunkBytes = 0
    const inner = decodeMeshMessage(whole)
    if (inner.type === 'chunk') throw malformedMesh('nested chunk')
    return inner
  }

  async #handle(m: MeshMessage): Promise<void> {
    if (this.state === 'handshake') return this.#handshake(m)
    if ('name' in m && !isValidDocName(m.name)) throw malformedMesh(`invalid document name from peer`)
    if (m.type === 'catalog' || m.type === 'tombstones') {
      for (const e of m.entries)
        if (!isValidDocName(e.name)) throw malformedMesh('invalid document name from peer')
    }
    if (m.type === 'tombstones') {
      for (const e of m.entries) if (!Number.isSafeInteger(e.at)) throw malformedMesh('invalid tombstone time')
    }
    switch (m.type) {
      case 'catalog':
        return this.#onCatalog(m.entries, m.last, m.round)
      case 'tombstones':
        return this.host.mergeTombstones(this, m.entries)
      case 'step1':
        return this.#onStep1(m.name, m.stateVector)
      case 'step2':
        return this.#onPeerUpdate(m.name, m.update, m.seq, true)
      case 'update':
        return this.#onPeerUpdate(m.name, m.update, m.seq, false)
      case 'ack':
        if (m.seq > this.ackedSeq) {
          this.ackedSeq = Math.min(m.seq, this.sentSeq)
          this.host.metrics.peerLag.set({ peer: this.peerRelayId }, this.sentSeq - this.ackedSeq)
          this.host.onPeerAck()
        }
        return
      case 'synced':
        if (!this.peerSynced) {
          this.peerSynced = true
          this.host.log.info({ peer: this.peerRelayId }, 'peer holds our catalog')
        }
        return
      default:
        this.close(CloseCode.MALFORMED, `unexpected ${m.type}`)
    }
  }

  #handshake(m: MeshMessage): void {
    const secret = this.host.meshSecret
    if (!secret) return this.#refuseWithoutSecret(m.type === 'hello' ? m.relayId : undefined)
    const own = { relayId: this.host.relayId, storeId: this.host.storeId, nonce: this.#nonce }
    if (this.role === 'acceptor' && m.type === 'hello' && !this.#transcript) {
      if (m.version !== MESH_PROTOCOL_VERSION)
        return this.close(CloseCode.MALFORMED, 'unsupported mesh version')
      if (m.nonce.length !== MESH_NONCE_BYTES) throw malformedMesh('nonce length')
      // Refused before we send a proof of ours: our own hello came back (a peer URL that leads to
      // us, or someone reflecting it), or someone claims our store.
      const ownDial = this.host.dialing.get(Buffer.from(m.nonce).toString('hex'))
      if (ownDial) {
        ownDial.#leadsBack()
        return this.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
      }
      if (m.storeId === own.storeId) {
        this.host.log.warn({ claimed: m.relayId }, "refused a mesh hello that claims this relay's own store")
        return this.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
      }
      this.peerRelayId = m.relayId
      this.peerStoreId = m.storeId
      this.#transcript = {
        version: m.version,
        dialer: { relayId: m.relayId, storeId: m.storeId, nonce: m.nonce },
        acceptor: own,
      }
      this.#send({
        type: 'challenge',
        relayId: own.relayId,
        storeId: own.storeId,
        nonce: own.nonce,
        proof: meshProof(secret, 'acceptor->dialer', this.#transcript),
      })
      return
    }
    if (this.role === 'acceptor' && m.type === 'proof' && this.#transcript) {
      if (!verifyMeshProof(secret, 'dialer->acceptor', this.#transcript, m.proof)) {
        this.host.log.warn({ peer: this.peerRelayId }, 'peer failed the mesh secret challenge')
        return this.close(CloseCode.UNAUTHORIZED, 'mesh authentication failed')
      }
      return this.#opened(secret, this.#transcript)
    }
    if (this.role === 'dialer' && m.type === 'challenge' && !this.#transcript) {
      if (m.nonce.length !== MESH_NONCE_BYTES) throw malformedMesh('nonce length')
      // Our proof is not sent to an acceptor that claims our own store: it would be reflected.
      if (m.storeId === own.storeId) return this.#leadsBack()
      const transcript: MeshTranscript = {
        version: MESH_PROTOCOL_VERSION,
        dialer: own,
        acceptor: { relayId: m.relayId, storeId: m.storeId, nonce: m.nonce },
      }
      if (!verifyMeshProof(secret, 'acceptor->dialer', transcript, m.proof)) {
        this.host.log.warn({ peer: this.url }, 'peer failed the mesh secret challenge')
        return this.close(CloseCode.UNAUTHORIZED, 'mesh authentication failed')
      }
      this.#transcript = transcript
      this.peerRelayId = m.relayId
      this.peerStoreId = m.storeId
      this.#send({ type: 'proof', proof: meshProof(secret, 'dialer->acceptor', transcript) })
      return this.#opened(secret, transcript)
    }
    this.close(CloseCode.UNAUTHORIZED, 'mesh handshake expected')
  }

  /** Our dialed URL leads back to this relay: say so once for this dial, and retry later. */
  #leadsBack(): void {
    if (this.state === 'closed') return
    this.host.log.warn(
      { peer: this.url },
      'peer URL leads back to this relay (its own handshake or store id came back): not a peer',
    )
    this.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
  }

  #refuseWithoutSecret(claimed?: string): void {
    this.host.log.warn({ peer: this.url ?? claimed }, 'refused a mesh link: this relay has no --mesh-secret')
    this.close(CloseCode.UNAUTHORIZED, 'no mesh secret')
  }

  #opened(secret: string, transcript: MeshTranscript): void {
    if (this.peerStoreId === this.host.storeId) {
      this.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
      return
    }
    this.host.dialing.delete(this.#nonce.toString('hex'))
    this.#session = new MeshSession(deriveLinkKeys(secret, transcript, this.role))
    this.state = 'open'
    clearTimeout(this.#handshakeTimer)
    this.host.onLinkOpen(this)
    void this.startRound()
  }

  /** Streams our catalog to the peer (one anti-entropy round), with backpressure. */
  async startRound(): Promise<void> {
    const round = ++this.#round
    // Updates applied before this link opened were not forwarded on it: wait until they are
    // committed, so the catalog read below (from the store) includes them. Later ones are forwarded.
    await this.host.whenAllCommitted()
    for (const entries of tombstonePages(this.host.tombstones())) {
      if (this.state !== 'open') return
      this.#send({ type: 'tombstones', entries })
      await this.#whenDrained()
    }
    let page: { name: string; digest: string }[] = []
    for await (const entry of this.host.catalog()) {
      if (this.state !== 'open') return
      if (entry.digest === null) continue // corrupt: never offered
      page.push({ name: entry.name, digest: entry.digest })
      if (page.length >= CATALOG_PAGE) {
        this.#send({ type: 'catalog', round, last: false, entries: page })
        page = []
        await this.#whenDrained()
      }
    }
    this.#send({ type: 'catalog', round, last: true, entries: page })
  }

  /** Resolves once the socket's send buffer is under the high-water mark, or the link closed. */
  #whenDrained(): Promise<void> {
    if (this.state !== 'open' || this.ws.bufferedAmount <= SEND_HIGH_WATER) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  /** Called as each frame leaves ws' buffer: wakes the catalog stream once the buffer drained. */
  #onFrameWritten = (): void => {
    if (this.#drainWaiters.length === 0) return
    if (this.state === 'open' && this.ws.bufferedAmount > SEND_HIGH_WATER) return
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const wake of waiters) wake()
  }

  async #onCatalog(entries: { name: string; digest: string }[], last: boolean, round: number): Promise<void> {
    if (round !== this.#pullingRound) {
      this.#pullingRound = round
      this.#catalogDone = false
    }
    for (const { name, digest } of entries) {
      if (!(await this.host.matchesDigest(name, digest))) this.#pullQueue.push(name)
    }
    if (last) this.#catalogDone = true
    this.#pump()
    this.#maybeSynced()
  }

  /** Asks for a document with our state vector; the answer is a step2. */
  requestDoc(name: string, stateVector: Uint8Array | null): void {
    this.#pullsInFlight.set(name, (this.#pullsInFlight.get(name) ?? 0) + 1)
    this.#send({ type: 'step1', name, stateVector: stateVector ?? EMPTY_STATE_VECTOR })
  }

  #pump(): void {
    while (this.state === 'open' && this.#pullsInFlight.size < MAX_PULLS && this.#pullQueue.length > 0) {
      const name = this.#pullQueue.shift()!
      this.#pullsInFlight.set(name, (this.#pullsInFlight.get(name) ?? 0) + 1)
      this.host.stateVectorOf(name).then(
        (sv) => {
          if (this.state === 'open') this.#send({ type: 'step1', name, stateVector: sv })
        },
        () => {
          // A local document we cannot read is repaired as a whole from the peer.
          if (this.state === 'open') this.#send({ type: 'step1', name, stateVector: EMPTY_STATE_VECTOR })
        },
      )
    }
  }

  #maybeSynced(): void {
    if (this.#catalogDone && this.#pullQueue.length === 0 && this.#pullsInFlight.size === 0) {
      this.#catalogDone = false
      // Everything pulled is applied; the synced mark waits until it is durable.
      const seq = this.#durable.at(-1)?.seq ?? 0
      const round = this.#pullingRound
      void this.#whenDurableThrough(seq).then(() => {
        if (this.state !== 'open') return
        this.pulledRounds++
        this.#send({ type: 'synced', round })
        this.host.onRoundPulled(this)
      })
    }
  }

  /** Resolves once everything the peer sent through `seq` is durable here, or the link closed. */
  #whenDurableThrough(seq: number): Promise<void> {
    if (this.state !== 'open' || this.#ackedOut >= seq) return Promise.resolve()
    return new Promise((resolve) => this.#durableWaiters.push({ seq, resolve }))
  }

  #wakeDurableWaiters(): void {
    const closed = this.state !== 'open'
    this.#durableWaiters = this.#durableWaiters.filter((w) => {
      if (!closed && w.seq > this.#ackedOut) return true
      w.resolve()
      return false
    })
  }

  async #onStep1(name: string, stateVector: Uint8Array): Promise<void> {
    let update: Uint8Array
    try {
      update = await this.host.diffOf(name, stateVector)
    } catch (err) {
      this.host.log.warn({ doc: name, err: (err as Error).message }, 'cannot answer a peer pull')
      update = EMPTY_UPDATE
    }
    this.#send({ type: 'step2', name, update, seq: ++this.sentSeq })
    this.host.metrics.peerLag.set({ peer: this.peerRelayId }, this.sentSeq - this.ackedSeq)
    await this.#whenDrained()
  }

  async #onPeerUpdate(name: string, update: Uint8Array, seq: number, isPull: boolean): Promise<void> {
    this.host.metrics.replicationBytes.inc({ peer: this.peerRelayId, direction: 'in' }, update.length)
    const entry = { seq, done: false }
    this.#durable.push(entry)
    const { committed } = await this.host.applyFromPeer(this, name, update, isPull)
    committed.then(
      () => {
        entry.done = true
        this.#flushAcks()
      },
      () => this.close(CloseCode.TRANSIENT, 'storage failure'),
    )
    if (isPull) {
      const left = (this.#pullsInFlight.get(name) ?? 1) - 1
      if (left <= 0) this.#pullsInFlight.delete(name)
      else this.#pullsInFlight.set(name, left)
      this.#pump()
      this.#maybeSynced()
    }
  }

  #flushAcks(): void {
    let acked = this.#ackedOut
    while (this.#durable.length > 0 && this.#durable[0]!.done) acked = this.#durable.shift()!.seq
    if (acked > this.#ackedOut) {
      this.#ackedOut = acked
      this.#send({ type: 'ack', seq: acked })
      this.#wakeDurableWaiters()
    }
  }

  /** Sends tombstone records that just changed (docs/PROTOCOL.md section 9). */
  sendTombstones(entries: MeshTombstone[]): void {
    if (this.state !== 'open') return
    this.#send({ type: 'tombstones', entries })
  }

  /** Forwards a live update. */
  sendUpdate(name: string, update: Uint8Array): void {
    if (this.state !== 'open') return
    this.#send({ type: 'update', name, update, seq: ++this.sentSeq })
  }
}
