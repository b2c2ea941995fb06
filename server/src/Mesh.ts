import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { CloseCode, digestOfDoc, ErrorCode, isRhizomeError, MESH_MAX_FRAME_BYTES } from '@rhizome/protocol'
import { WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import type { AckSource } from './AckTracker.js'
import { backoffDelay } from './backoff.js'
import { PeerLink } from './PeerLink.js'
import type { Relay } from './Relay.js'
import { assertAppliesWhole } from './UpdateGate.js'

const EMPTY_STATE_VECTOR = new Uint8Array([0])
/** An update that changes nothing (what a document nobody has diffs to). */
const EMPTY_UPDATE = new Uint8Array([0, 0])

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
export class Mesh {
  readonly links = new Set<PeerLink>()
  readonly #dialers: Dialer[]
  readonly #repairs = new Set<string>()
  #recovering: boolean
  #stopped = false
  #antiEntropyTimer: ReturnType<typeof setInterval> | null = null
  /**
   * Mesh sockets have their own frame limit, independent of `--max-message-bytes` for clients:
   * large messages travel in chunks, so one small limit holds before and after the handshake.
   */
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MESH_MAX_FRAME_BYTES })

  constructor(readonly relay: Relay) {
    this.#dialers = relay.options.peers.map((url) => ({ url, link: null, attempt: 0, timer: null }))
    this.#recovering = this.#dialers.length > 0
  }

  /** True from start until the first full anti-entropy pull from some peer finished. */
  get recovering(): boolean {
    return this.#recovering
  }

  start(): void {
    for (const dialer of this.#dialers) this.#dial(dialer)
    this.#antiEntropyTimer = setInterval(() => {
      for (const link of this.links) if (link.open) void link.startRound()
    }, this.relay.options.antiEntropyMs)
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
    this.links.delete(link)
    // Held parts of its updates will come again with the next anti-entropy round.
    for (const doc of this.relay.docs.values()) doc.dropPendingFrom(link)
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
    if (this.#repairs.has(name)) return false
    const loaded = this.relay.docs.get(name)
    if (loaded && !loaded.closed) {
      try {
        await loaded.ready
        return digestOfDoc(loaded.ydoc) === digest
      } catch {
        return false
      }
    }
    try {
      return (await this.relay.store.getDigest(name)) === digest
    } catch {
      return false
    }
  }

  async stateVectorOf(name: string): Promise<Uint8Array> {
    const loaded = this.relay.docs.get(name)
    if (loaded && !loaded.closed) {
      await loaded.ready
      return Y.encodeStateVector(loaded.ydoc)
    }
    return (await this.relay.store.getStateVector(name)) ?? EMPTY_STATE_VECTOR
  }

  async diffOf(name: string, stateVector: Uint8Array): Promise<Uint8Array> {
    const loaded = this.relay.docs.get(name)
    if (loaded && !loaded.closed) {
      await loaded.ready
      return Y.encodeStateAsUpdate(loaded.ydoc, stateVector)
    }
    const diff = await this.relay.store.diff(name, stateVector)
    return diff ?? EMPTY_UPDATE
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
    if (this.#repairs.has(name)) {
      if (!isPull) return { committed: Promise.resolve() } // the full pull answer repairs it
      this.#repairs.delete(name)
      try {
        // The repair rewrites the document from this update: it must apply whole (PROTOCOL_MALFORMED
        // closes the link; the document stays marked for repair).
        assertAppliesWhole(update)
        await this.relay.store.repair(name, update)
        this.relay.log.info({ doc: name, peer: link.peerRelayId }, 'repaired corrupt document from a peer')
        return { committed: Promise.resolve() }
      } catch (err) {
        this.#repairs.add(name)
        throw err
      }
    }
    try {
      // A document this relay has never held (a recovering relay pulls thousands): straight into
      // the store, without building a Y.Doc for it. It becomes the whole document, so it is first
      // applied to a scratch document: bytes Yjs cannot apply cleanly are never stored.
      if (isPull && !this.relay.docs.has(name) && !(await this.relay.store.has(name))) {
        assertAppliesWhole(update)
        const committed = this.relay.store.append(name, update).then(() => {
          // A client may have opened it meanwhile, loading the store before this commit.
          const loaded = this.relay.docs.get(name)
          if (loaded && !loaded.closed) loaded.ready.then(() => loaded.apply(update, link)).catch(() => {})
        })
        return { committed }
      }
      return await this.relay.withDoc(name, (doc) => {
        // A held part (waiting for structs this relay lacks) is acknowledged once it integrated.
        return { committed: doc.whenDurable(doc.apply(update, link)) }
      })
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
