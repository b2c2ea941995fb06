import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import {
  backoffDelay,
  CloseCode,
  EMPTY_STATE_VECTOR,
  EMPTY_UPDATE,
  ErrorCode,
  isRhizomeError,
  MESH_MAX_FRAME_BYTES,
  type MeshDocRecords,
  type MeshTombstone,
} from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import { WebSocket, WebSocketServer } from 'ws'
import type { AckSource } from '../docs/AckTracker.js'
import type { DocDeletion } from '../docs/DocDeletion.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import { assertAppliesWhole } from '../docs/standaloneSummary.js'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { PeerLink, type PeerLinkHost } from './PeerLink.js'
import { type Claimed, type Offer, Refill, type Triage } from './Refill.js'

/** What the mesh needs from its relay. */
export interface MeshHost {
  readonly id: string
  readonly store: DocStore
  readonly docs: DocRegistry
  readonly log: Logger
  readonly metrics: RelayMetrics
  /** Peer acknowledgements arrived (or targets became unreachable): client ACKs re-evaluate. */
  onPeerAck(): void
  /** Tombstones (docs/PROTOCOL.md section 9): deleted documents are never offered, pulled or applied. */
  readonly deletion: DocDeletion
  /** A corrupt document is about to be rewritten from a peer's full state `update` (before its commit). */
  onRepair?(name: string, update: Uint8Array, link: PeerLink): void
}

/** The mesh part of the relay's options (docs/PROTOCOL.md section 1). */
export interface MeshOptions {
  peers: string[]
  meshSecret?: string
  antiEntropyMs: number
}

/** A configured peer URL and the link currently serving it. */
interface Dialer {
  url: string
  link: PeerLink | null
  attempt: number
  timer: ReturnType<typeof setTimeout> | null
}

/**
 * The relay's replication with its peers: dials every `--peers` URL (reconnecting with capped
 * exponential backoff and full jitter), accepts links from peers, forwards live updates, runs
 * anti-entropy, repairs corrupt documents and reports whether this relay is still recovering.
 */
export class Mesh implements PeerLinkHost {
  readonly links = new Set<PeerLink>()
  readonly dialing = new Map<string, PeerLink>()
  readonly #dialers: Dialer[]
  readonly #repairs = new Set<string>()
  readonly #refill: Refill
  #recovering: boolean
  #stopped = false
  #antiEntropyTimer: ReturnType<typeof setInterval> | null = null
  /**
   * Mesh sockets have their own frame limit, independent of `--max-message-bytes` for clients:
   * large messages travel in chunks, so one small limit holds before and after the handshake.
   */
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MESH_MAX_FRAME_BYTES })

  constructor(
    private readonly relay: MeshHost,
    private readonly options: MeshOptions,
  ) {
    this.#dialers = options.peers.map((url) => ({ url, link: null, attempt: 0, timer: null }))
    this.#recovering = this.#dialers.length > 0
    this.#refill = new Refill({
      store: relay.store,
      docs: relay.docs,
      deletion: relay.deletion,
      repairs: this.#repairs,
    })
  }

  // PeerLinkHost: what every link reads from the relay.

  get relayId(): string {
    return this.relay.id
  }

  get storeId(): string {
    return this.relay.store.id
  }

  get meshSecret(): string {
    return this.options.meshSecret ?? ''
  }

  get log(): Logger {
    return this.relay.log
  }

  get metrics(): RelayMetrics {
    return this.relay.metrics
  }

  async *catalog(): AsyncIterable<{ name: string; digest: string | null }> {
    // Deleted documents are left out of anti-entropy: their tombstones went first.
    for await (const entry of this.relay.store.catalog()) {
      if (!this.relay.deletion.isDeleted(entry.name)) yield entry
    }
  }

  tombstones(): MeshTombstone[] {
    return this.relay.deletion.records()
  }

  mergeTombstones(link: PeerLink, entries: MeshTombstone[]): Promise<void> {
    return this.relay.deletion.merge(entries, link)
  }

  /** Sends a tombstone record that changed here to every open link except the one it came from. */
  announceTombstone(record: MeshTombstone, origin: unknown): void {
    const entry = { name: record.name, deleted: record.deleted, at: record.at }
    for (const link of this.links) if (link !== origin) link.sendTombstones([entry])
    // Undeleted: what the peers hold of it comes back now, not at the next anti-entropy round
    // (a relay wiped while it was deleted holds nothing of it).
    if (!record.deleted) void this.#pullFromAll(record.name)
  }

  async #pullFromAll(name: string): Promise<void> {
    const stateVector = await this.relay.docs.stateVectorOf(name).catch(() => EMPTY_STATE_VECTOR)
    for (const link of this.links) if (link.open) link.requestDoc(name, stateVector)
  }

  whenAllCommitted(): Promise<void> {
    return this.relay.docs.whenAllCommitted()
  }

  onPeerAck(): void {
    this.relay.onPeerAck()
  }

  /** True from start until the first full anti-entropy pull from some peer finished. */
  get recovering(): boolean {
    return this.#recovering
  }

  start(): void {
    for (const dialer of this.#dialers) this.#dial(dialer)
    this.#antiEntropyTimer = setInterval(() => {
      for (const link of this.links) if (link.open) void link.startRound()
    }, this.options.antiEntropyMs)
    this.#antiEntropyTimer.unref()
    void (async () => {
      for await (const name of this.relay.store.corruptDocs()) this.requestRepair(name)
    })().catch((err) => this.relay.log.error({ err }, 'listing corrupt documents failed'))
  }

  stop(): void {
    this.#stopped = true
    if (this.#antiEntropyTimer) clearInterval(this.#antiEntropyTimer)
    for (const d of this.#dialers) if (d.timer) clearTimeout(d.timer)
    for (const link of this.links) link.close(CloseCode.GOING_AWAY, 'relay shutting down')
    for (const ws of this.#wss.clients) ws.terminate()
  }

  /** Peers as `/healthz` reports them. */
  peerStatus(): { url: string; id: string | null; connected: boolean }[] {
    return this.#dialers.map((d) => ({
      url: d.url,
      id: d.link?.peerRelayId || null,
      connected: d.link?.open ?? false,
    }))
  }

  #dial(dialer: Dialer): void {
    if (this.#stopped) return
    const base = dialer.url.replace(/\/+$/, '')
    const ws = new WebSocket(`${base}/_mesh`, { maxPayload: MESH_MAX_FRAME_BYTES, handshakeTimeout: 10_000 })
    const link = new PeerLink(ws, 'dialer', this, dialer.url)
    dialer.link = link
    ws.on('unexpected-response', (_req, res) => {
      this.relay.log.warn({ peer: dialer.url, status: res.statusCode }, 'peer refused the mesh connection')
      ws.terminate()
    })
  }

  /** Completes a `/_mesh` upgrade and starts the acceptor side of the handshake. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req))
  }

  /** A peer dialed us. */
  accept(ws: WebSocket, _req: IncomingMessage): void {
    if (this.#stopped) {
      ws.close(CloseCode.GOING_AWAY, 'relay shutting down')
      return
    }
    new PeerLink(ws, 'acceptor', this, null)
  }

  onLinkOpen(link: PeerLink): void {
    this.links.add(link)
    const dialer = this.#dialers.find((d) => d.link === link)
    if (dialer) dialer.attempt = 0
    this.relay.metrics.peerConnected.set({ peer: link.peerRelayId }, 1)
    this.relay.log.info({ peer: link.peerRelayId, role: link.role }, 'peer link open')
    for (const name of this.#repairs) link.requestDoc(name, EMPTY_STATE_VECTOR)
  }

  onLinkClosed(link: PeerLink, wasOpen: boolean): void {
    this.#refill.releaseAll(link)
    this.links.delete(link)
    // Held parts of its updates will come again with the next anti-entropy round.
    this.relay.docs.dropPendingFrom(link)
    if (wasOpen) {
      this.relay.metrics.peerConnected.set({ peer: link.peerRelayId }, 0)
      this.relay.log.info({ peer: link.peerRelayId }, 'peer link closed')
      this.relay.onPeerAck() // targets on this link are now unreachable
    }
    const dialer = this.#dialers.find((d) => d.link === link)
    if (!dialer || this.#stopped) return
    dialer.link = null
    const delay = backoffDelay(dialer.attempt++, 200, 5000)
    dialer.timer = setTimeout(() => {
      dialer.timer = null
      this.#dial(dialer)
    }, delay)
    dialer.timer.unref()
  }

  onRoundPulled(link: PeerLink): void {
    this.relay.metrics.antiEntropyRounds.inc({ peer: link.peerRelayId })
    if (this.#recovering) {
      this.#recovering = false
      this.relay.log.info({ peer: link.peerRelayId }, 'recovery pass finished')
    }
  }

  /** Sends a live update to every open link except the one it came from. */
  forward(name: string, update: Uint8Array, origin: unknown): void {
    for (const link of this.links) if (link !== origin) link.sendUpdate(name, update)
  }

  /** Sequence number each caught-up peer must acknowledge to hold the current state. */
  ackTargets(): Map<AckSource, number> {
    const targets = new Map<AckSource, number>()
    for (const link of this.links) if (link.open && link.peerSynced) targets.set(link, link.sentSeq)
    return targets
  }

  /** True when our copy of `name` has this digest. Corrupt documents never match. */
  async matchesDigest(name: string, digest: string): Promise<boolean> {
    // A deleted document is never pulled back, whatever the peer still holds.
    if (this.relay.deletion.isDeleted(name)) return true
    if (this.#repairs.has(name)) return false
    return (await this.relay.docs.digestOf(name)) === digest
  }

  triage(entries: Offer[]): Promise<Triage> {
    return this.#refill.triage(entries)
  }

  claim(owner: object, offers: Offer[]): Claimed {
    return this.#refill.claim(owner, offers)
  }

  adopt(owner: object, docs: MeshDocRecords[]): { committed: Promise<void>; refused: Promise<string[]> } {
    return this.#refill.adopt(owner, docs)
  }

  releaseClaim(name: string): void {
    this.#refill.release(name)
  }

  takeFetchSlot(owner: object, wake: () => void): boolean {
    return this.#refill.takeFetchSlot(owner, wake)
  }

  giveFetchSlot(owner: object): void {
    this.#refill.giveFetchSlot(owner)
  }

  exportDocs(names: string[]): Promise<{ docs: MeshDocRecords[]; unavailable: string[] }> {
    return this.#refill.export(names)
  }

  stateVectorOf(name: string): Promise<Uint8Array> {
    return this.relay.docs.stateVectorOf(name)
  }

  diffOf(name: string, stateVector: Uint8Array): Promise<Uint8Array> {
    if (this.relay.deletion.isDeleted(name)) return Promise.resolve(EMPTY_UPDATE)
    return this.relay.docs.diffOf(name, stateVector)
  }

  /**
   * Applies what a peer sent. Returns the commit that makes it durable (resolved at once when it
   * changed nothing that is not already committed).
   */
  async applyFromPeer(
    link: PeerLink,
    name: string,
    update: Uint8Array,
    isPull: boolean,
  ): Promise<{ committed: Promise<void> }> {
    // Updates of a deleted document are dropped, never stored: the delete wins (section 9).
    if (this.relay.deletion.isDeleted(name)) return { committed: Promise.resolve() }
    if (this.#repairs.has(name)) {
      if (!isPull) return { committed: Promise.resolve() } // the full pull answer repairs it
      this.#repairs.delete(name)
      try {
        // The repair rewrites the document from this update: it must apply whole (PROTOCOL_MALFORMED
        // closes the link; the document stays marked for repair).
        assertAppliesWhole(update)
        this.relay.onRepair?.(name, update, link)
        await this.relay.store.repair(name, update)
        this.relay.log.info({ doc: name, peer: link.peerRelayId }, 'repaired corrupt document from a peer')
        return { committed: Promise.resolve() }
      } catch (err) {
        this.#repairs.add(name)
        throw err
      }
    }
    try {
      return await this.relay.docs.applyFromPeer(name, update, link, isPull)
    } catch (err) {
      if (isRhizomeError(err, ErrorCode.STORE_CORRUPT)) {
        // Our copy is damaged: ask for the whole document instead.
        if (!this.#repairs.has(name)) {
          this.#repairs.add(name)
          link.requestDoc(name, EMPTY_STATE_VECTOR)
        }
        return { committed: Promise.resolve() }
      }
      throw err
    }
  }

  /** Marks a document for repair and asks every open link for its full state. */
  requestRepair(name: string): void {
    if (this.#repairs.has(name)) return
    this.#repairs.add(name)
    for (const link of this.links) if (link.open) link.requestDoc(name, EMPTY_STATE_VECTOR)
  }
}
