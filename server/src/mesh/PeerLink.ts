import {
  CloseCode,
  chunkMeshFrame,
  closeCodeFor,
  decodeMeshMessage,
  EMPTY_UPDATE,
  ErrorCode,
  encodeMeshMessage,
  isRhizomeError,
  isValidDocName,
  type MeshDocRecords,
  type MeshMessage,
  type MeshTombstone,
} from '@rhizome/protocol'
import type { WebSocket } from 'ws'
import type { AckSource } from '../docs/AckTracker.js'
import type { RelayMetrics } from '../metrics.js'
import { CatalogRound, type CatalogRoundHost } from './CatalogRound.js'
import { ChunkAssembler } from './ChunkAssembler.js'
import { InboundAcks } from './InboundAcks.js'
import { InboundQueue } from './InboundQueue.js'
import { MeshHandshake, type MeshHandshakeHost } from './MeshHandshake.js'
import { MeshSession } from './MeshSession.js'
import { malformedMesh } from './malformedMesh.js'
import type { MeshLinkKeys } from './meshAuth.js'
import { SendDrain } from './SendDrain.js'

/** Outbound bytes after which a peer is too slow: the link is dropped and anti-entropy catches up later. */
const SLOW_PEER_BYTES = 64 * 1024 * 1024

/** What a link needs from the relay's mesh. */
export interface PeerLinkHost extends MeshHandshakeHost, CatalogRoundHost {
  readonly metrics: RelayMetrics
  diffOf(name: string, stateVector: Uint8Array): Promise<Uint8Array>
  /** Reads documents whole for the peer's `fetch` (docs/PROTOCOL.md, Mesh: fetch and records). */
  exportDocs(names: string[]): Promise<{ docs: MeshDocRecords[]; unavailable: string[] }>
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
  /** Merges tombstone records the peer sent, before anything later on the link is handled. */
  mergeTombstones(link: PeerLink, entries: MeshTombstone[]): Promise<void>
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
 *
 * This class holds the link's lifecycle, sending, receiving and dispatch; its parts do the rest.
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
  readonly #handshake: MeshHandshake
  /** Seals and opens every frame once the link is open. */
  #session: MeshSession | null = null
  readonly #inbound: InboundQueue
  readonly #chunks = new ChunkAssembler()
  readonly #sendDrain: SendDrain
  readonly #acks: InboundAcks
  readonly #rounds: CatalogRound

  constructor(
    readonly ws: WebSocket,
    readonly role: 'dialer' | 'acceptor',
    private readonly host: PeerLinkHost,
    /** The configured URL for dialed links. */
    readonly url: string | null,
  ) {
    const isOpen = () => this.state === 'open'
    const send = (m: MeshMessage) => this.#send(m)
    this.#handshake = new MeshHandshake(role, host, {
      url,
      send,
      close: (code, reason) => this.close(code, reason),
      leadsBack: () => this.leadsBack(),
      identified: (relayId, storeId) => {
        this.peerRelayId = relayId
        this.peerStoreId = storeId
      },
    })
    this.#inbound = new InboundQueue(
      ws,
      () => this.state === 'closed',
      (frame) => this.#onFrame(frame),
      (err) => this.#onFrameError(err),
    )
    this.#sendDrain = new SendDrain(ws, isOpen)
    this.#acks = new InboundAcks((seq) => this.#send({ type: 'ack', seq }), isOpen)
    this.#rounds = new CatalogRound(host, {
      owner: this,
      isOpen,
      send,
      whenDrained: () => this.#sendDrain.whenDrained(),
      acks: this.#acks,
      roundPulled: (round) => this.#roundPulled(round),
    })
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data: Buffer) =>
      this.#inbound.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
    )
    ws.on('close', () => this.#onClose())
    ws.on('error', () => this.#onClose())
    if (role === 'dialer') {
      this.host.dialing.set(this.#handshake.dialKey, this)
      if (ws.readyState === ws.OPEN) this.#handshake.hello()
      else ws.once('open', () => this.#handshake.hello())
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
    } else if (m.type === 'records') {
      this.host.metrics.replicationBytes.inc(
        { peer: this.peerRelayId, direction: 'out' },
        recordBytes(m.docs),
      )
    }
    // Each wire frame (each chunk) is sealed on its own, so a receiver authenticates every frame
    // before it buffers any of it.
    const session = this.#session
    for (const frame of chunkMeshFrame(encodeMeshMessage(m)))
      this.ws.send(session ? session.seal(frame) : frame, this.#sendDrain.onFrameWritten)
  }

  /** Closes the link; the dialer side reconnects with backoff. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return
    this.ws.close(code, reason)
    this.#onClose()
  }

  #onClose(): void {
    if (this.state === 'closed') return
    this.#handshake.stop()
    this.host.dialing.delete(this.#handshake.dialKey)
    this.#chunks.clear()
    const wasOpen = this.state === 'open'
    this.state = 'closed'
    this.ws.terminate()
    this.#sendDrain.onFrameWritten()
    this.#acks.wake()
    this.host.onLinkClosed(this, wasOpen)
  }

  async #onFrame(frame: Uint8Array): Promise<void> {
    const message = this.#chunks.push(this.#unseal(decodeMeshMessage(frame)), this.state === 'open')
    if (message) await this.#handle(message)
  }

  #onFrameError(err: unknown): void {
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
  }

  /** Before the handshake ends frames are plain; after it, each must be sealed under the link's key. */
  #unseal(m: MeshMessage): MeshMessage {
    if (this.#session) return decodeMeshMessage(this.#session.open(m))
    if (m.type === 'sealed') throw malformedMesh('sealed frame before the handshake')
    return m
  }

  async #handle(m: MeshMessage): Promise<void> {
    if (this.state === 'handshake') {
      const keys = this.#handshake.step(m)
      if (keys) this.#opened(keys)
      return
    }
    if ('name' in m && !isValidDocName(m.name)) throw malformedMesh(`invalid document name from peer`)
    if (m.type === 'catalog' || m.type === 'tombstones') {
      for (const e of m.entries)
        if (!isValidDocName(e.name)) throw malformedMesh('invalid document name from peer')
    }
    if (m.type === 'tombstones') {
      for (const e of m.entries)
        if (!Number.isSafeInteger(e.at)) throw malformedMesh('invalid tombstone time')
    }
    const named =
      m.type === 'fetch'
        ? m.names
        : m.type === 'records'
          ? [...m.docs.map((d) => d.name), ...m.unavailable]
          : []
    for (const name of named)
      if (!isValidDocName(name)) throw malformedMesh('invalid document name from peer')
    switch (m.type) {
      case 'catalog':
        return this.#rounds.onCatalog(m.entries, m.last, m.round)
      case 'tombstones':
        return this.host.mergeTombstones(this, m.entries)
      case 'step1':
        return this.#onStep1(m.name, m.stateVector)
      case 'step2':
        return this.#onPeerUpdate(m.name, m.update, m.seq, true)
      case 'update':
        return this.#onPeerUpdate(m.name, m.update, m.seq, false)
      case 'fetch':
        return this.#onFetch(m.names)
      case 'records':
        return this.#onRecords(m.docs, m.unavailable, m.seq)
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

  /**
   * Our dialed URL leads back to this relay (its own hello or store id came back): says so once
   * for this dial and closes; the dial is retried later.
   */
  leadsBack(): void {
    if (this.state === 'closed') return
    this.host.log.warn(
      { peer: this.url },
      'peer URL leads back to this relay (its own handshake or store id came back): not a peer',
    )
    this.close(CloseCode.UNAUTHORIZED, 'mesh link to itself')
  }

  #opened(keys: MeshLinkKeys): void {
    this.host.dialing.delete(this.#handshake.dialKey)
    this.#session = new MeshSession(keys)
    this.state = 'open'
    this.#handshake.stop()
    this.host.onLinkOpen(this)
    void this.startRound()
  }

  /** Streams our catalog to the peer (one anti-entropy round), with backpressure. */
  startRound(): Promise<void> {
    return this.#rounds.start()
  }

  /** Asks for a document with our state vector; the answer is a step2. */
  requestDoc(name: string, stateVector: Uint8Array | null): void {
    this.#rounds.request(name, stateVector)
  }

  #roundPulled(round: number): void {
    if (this.state !== 'open') return
    this.pulledRounds++
    this.#send({ type: 'synced', round })
    this.host.onRoundPulled(this)
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
    await this.#sendDrain.whenDrained()
  }

  async #onFetch(names: string[]): Promise<void> {
    const { docs, unavailable } = await this.host.exportDocs(names)
    this.#send({ type: 'records', seq: ++this.sentSeq, docs, unavailable })
    this.host.metrics.peerLag.set({ peer: this.peerRelayId }, this.sentSeq - this.ackedSeq)
    await this.#sendDrain.whenDrained()
  }

  #onRecords(docs: MeshDocRecords[], unavailable: string[], seq: number): void {
    this.host.metrics.replicationBytes.inc({ peer: this.peerRelayId, direction: 'in' }, recordBytes(docs))
    const durable = this.#acks.applied(seq)
    this.#rounds
      .onRecords(docs, unavailable)
      .then(durable, () => this.close(CloseCode.TRANSIENT, 'storage failure'))
  }

  async #onPeerUpdate(name: string, update: Uint8Array, seq: number, isPull: boolean): Promise<void> {
    this.host.metrics.replicationBytes.inc({ peer: this.peerRelayId, direction: 'in' }, update.length)
    const durable = this.#acks.applied(seq)
    const { committed } = await this.host.applyFromPeer(this, name, update, isPull)
    committed.then(durable, () => this.close(CloseCode.TRANSIENT, 'storage failure'))
    if (isPull) this.#rounds.answered(name)
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

/** Bytes of stored values in a `records` message. */
function recordBytes(docs: MeshDocRecords[]): number {
  let n = 0
  for (const doc of docs) for (const r of doc.records) n += r.value.length
  return n
}
