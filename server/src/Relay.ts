import type { Server } from 'node:http'
import { CloseCode } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import type { ChangeNotifier } from './changes/ChangeNotifier.js'
import { createChangeNotifier } from './changes/createChangeNotifier.js'
import { type Authorizer, createAuthorizer } from './connections/Authorizer.js'
import { DocCreationBudget } from './connections/DocCreationBudget.js'
import { Keepalive } from './connections/Keepalive.js'
import { OutboundBudget } from './connections/OutboundBudget.js'
import { UpgradeRouter } from './connections/UpgradeRouter.js'
import { openStore } from './database/openStore.js'
import { Scrubber } from './database/Scrubber.js'
import { ClientHub } from './docs/ClientHub.js'
import { DocDeletion } from './docs/DocDeletion.js'
import { DocRegistry } from './docs/DocRegistry.js'
import { Purger } from './docs/Purger.js'
import { createServer } from './http/createServer.js'
import { DocApi } from './http/DocApi.js'
import { handleHttp } from './http/handleHttp.js'
import { createLogger, type Logger } from './logger.js'
import { Mesh } from './mesh/Mesh.js'
import { RelayMetrics } from './metrics.js'
import type { RelayOptions } from './options.js'
import { SessionHub } from './sessions/SessionHub.js'
import type { WebhookNotifier } from './webhooks/WebhookNotifier.js'

/**
 * A relay: one HTTP + WebSocket server holding a full replica of every document it has seen,
 * durable before it acknowledges, replicating with its peers through the {@link Mesh}. This class
 * only wires the parts together and runs their lifecycle (docs/ARCHITECTURE.md).
 */
export class Relay {
  readonly metrics = new RelayMetrics()
  readonly log: Logger
  readonly #authorizer: Authorizer
  #changes: ChangeNotifier | null = null
  #webhook: WebhookNotifier | null = null
  #docApi: DocApi | null = null
  /** Unsent bytes of all client sockets, in total and per IP (docs/PROTOCOL.md section 4: 4500). */
  readonly #outbound: OutboundBudget
  /** New documents per minute per token (or anonymous IP): 4429 past it. */
  readonly #newDocs: DocCreationBudget
  #server: Server | null = null
  #router: UpgradeRouter | null = null
  #keepalive: Keepalive | null = null
  #store: DocStore | null = null
  #docs: DocRegistry | null = null
  #mesh: Mesh | null = null
  #scrubber: Scrubber | null = null
  #sessions: SessionHub | null = null
  #clients: ClientHub | null = null
  #purger: Purger | null = null
  #closing = false
  /** This relay's id (`--id`, or derived from its store id); set by {@link start}. */
  id = ''
  /** The port it listens on; set by {@link start}. */
  port = 0

  constructor(
    readonly options: RelayOptions,
    log?: Logger,
  ) {
    this.log = log ?? createLogger(options.logLevel)
    this.#authorizer = createAuthorizer(options, this.log)
    this.#outbound = new OutboundBudget(
      { maxBytes: options.maxOutboundBytes, maxBytesPerIp: options.maxOutboundBytesPerIp },
      { onEvicted: (scope) => this.metrics.outboundEvictions.inc({ scope }) },
    )
    this.#newDocs = new DocCreationBudget(options.maxNewDocsPerMinute)
  }

  /** `ws://host:port` (or `wss://`) this relay listens on. */
  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host
    return `${this.options.tlsCert ? 'wss' : 'ws'}://${host}:${this.port}`
  }

  /**
   * Opens the store (repairing a damaged database), starts listening and dials the peers.
   * Resolves once listening.
   * @throws RhizomeError USAGE for a data directory in use or unreadable TLS files.
   */
  async start(): Promise<void> {
    const { options, log, metrics } = this
    const store = await openStore(options, log, metrics)
    this.#store = store
    this.id = options.id ?? `relay-${store.id.slice(0, 8)}`
    const relay = this
    const { changes, webhook } = createChangeNotifier(options, this.id, log, metrics)
    this.#changes = changes
    this.#webhook = webhook
    const docs = new DocRegistry(
      store,
      // Held updates (waiting for missing structs) per document: one maximal message.
      { idleMs: options.idleMs, maxPendingUpdateBytes: options.maxMessageBytes },
      log,
      metrics,
      {
        onUpdate: (name, update, origin) => {
          this.#mesh?.forward(name, update, origin)
          this.#sessions?.publish(name, update, origin)
        },
        // Documents pulled from a peer straight into the store are not forwarded to other peers
        // (they pull them in their own rounds); those a device pushed are.
        onDirectAppend: (name, update, origin) => {
          if (this.#sessions?.owns(origin)) this.#mesh?.forward(name, update, origin)
          this.#sessions?.publish(name, update, origin)
        },
        onCorrupt: (name) => this.#mesh?.requestRepair(name),
        onDurable: (name, update, origin) => changes.durable(name, update, origin),
        get closing() {
          return relay.#closing
        },
      },
    )
    this.#docs = docs
    const deletion = new DocDeletion({
      store,
      docs,
      log,
      historyMs: options.historyMs,
      announce: (record, origin) => this.#mesh?.announceTombstone(record, origin),
      notifyDeleted: (name, at) => this.#sessions?.notifyDeleted(name, at),
    })
    const mesh = new Mesh(
      {
        id: this.id,
        store,
        docs,
        deletion,
        log,
        metrics,
        onPeerAck: () => this.#onPeerAck(),
        onRepair: (name, update, link) => this.#sessions?.publish(name, update, link),
      },
      { peers: options.peers, meshSecret: options.meshSecret, antiEntropyMs: options.antiEntropyMs },
    )
    this.#mesh = mesh
    const clients = new ClientHub(
      {
        docs,
        log,
        metrics,
        outbound: this.#outbound,
        newDocs: this.#newDocs,
        ackTargets: () => mesh.ackTargets(),
      },
      options,
    )
    this.#clients = clients
    const sessions = new SessionHub(
      {
        relayId: this.id,
        docs,
        log,
        metrics,
        ackTargets: () => mesh.ackTargets(),
        admitDocument: (name, s) => clients.admitDocument({ name, grant: s.grant, ip: s.ip, token: s.token }),
      },
      options,
    )
    this.#sessions = sessions

    const server = createServer({ cert: options.tlsCert, key: options.tlsKey })
    this.#server = server
    const keepalive = new Keepalive(() => this.#router?.sockets ?? [])
    this.#keepalive = keepalive
    // Without a mesh secret the handshake proves nothing and a peer reads and writes every
    // document, bypassing client tokens: a mesh link always needs a secret.
    const meshAllowed = options.meshSecret !== undefined && options.meshSecret !== ''
    const router = new UpgradeRouter(
      {
        log,
        metrics,
        get closing() {
          return relay.#closing
        },
        meshAllowed,
        acceptMesh: (req, socket, head) => mesh.handleUpgrade(req, socket, head),
        admitDocument: (client) => clients.admitDocument(client),
        acceptClient: (client) => clients.accept(client),
        acceptSession: (admitted) => sessions.accept(admitted),
      },
      this.#authorizer,
      keepalive,
      { maxMessageBytes: options.maxMessageBytes, maxConnectionsPerIp: options.maxConnectionsPerIp },
    )
    this.#router = router
    const docApi = new DocApi({
      docs,
      authorizer: this.#authorizer,
      maxMessageBytes: options.maxMessageBytes,
      log,
      get closing() {
        return relay.#closing
      },
      ackTargets: () => mesh.ackTargets(),
    })
    this.#docApi = docApi
    const httpHost = {
      id: this.id,
      store,
      metrics,
      authorizer: this.#authorizer,
      docApi,
      deletion,
      outboundBytes: () => this.#outbound.bufferedBytes,
      peerStatus: () => mesh.peerStatus(),
      get recovering() {
        return mesh.recovering
      },
    }
    server.on('request', (req, res) => {
      handleHttp(httpHost, req, res).catch((err) => {
        log.error({ err }, 'http handler failed')
        if (!res.headersSent) res.writeHead(500).end()
      })
    })
    server.on('upgrade', (req, socket, head) => router.onUpgrade(req, socket, head))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port, options.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const address = server.address()
    this.port = typeof address === 'object' && address ? address.port : options.port
    metrics.docsStored.set(store.docCount)
    keepalive.start()
    sessions.start()
    mesh.start()
    // Integrity checking runs beside serving, never as a scan before it (start-up does not grow
    // with the data); reads verify checksums too.
    this.#scrubber = new Scrubber(
      { store, log, metrics, dataDir: options.dataDir, onCorrupt: (name) => mesh.requestRepair(name) },
      options.scrubIntervalMs,
    )
    this.#scrubber.start()
    this.#purger = new Purger({ store, docs, log, historyMs: options.historyMs })
    this.#purger.start()
  }

  /** Peer acknowledgements arrived: connections waiting for copies re-evaluate. */
  #onPeerAck(): void {
    this.#clients?.onPeerAck()
    this.#docApi?.onPeerAck()
    this.#sessions?.onPeerAck()
  }

  /**
   * Graceful stop: refuse new sockets, flush every pending write (ACKing it), close every socket
   * with 1001, close the store.
   */
  async stop(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    this.#keepalive?.stop()
    this.#mesh?.stop()
    await this.#scrubber?.stop()
    await this.#purger?.stop()
    const server = this.#server
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve()
    // Flush first so that every write received so far is ACKed before its socket closes; then
    // close with 1001 (frames are ignored from then on) and flush what arrived meanwhile.
    const flush = async () => this.#docs?.whenAllCommitted()
    await flush()
    this.#clients?.closeAll(CloseCode.GOING_AWAY, 'relay shutting down')
    this.#sessions?.closeAll(CloseCode.GOING_AWAY, 'relay shutting down')
    this.#router?.closeAll(CloseCode.GOING_AWAY, 'relay shutting down')
    await flush()
    this.#docApi?.stop()
    // Everything is committed: the last durable changes reach onChange, the webhook one last try.
    this.#changes?.stop()
    await this.#webhook?.stop()
    if (this.#store) await this.#store.close()
    // Sockets that do not answer the close handshake are cut.
    const cut = setTimeout(() => {
      this.#router?.terminateAll()
      server?.closeAllConnections?.()
    }, 1000)
    cut.unref()
    await closed
    clearTimeout(cut)
    this.#docs?.destroyAll()
  }
}
