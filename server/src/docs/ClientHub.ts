import { CloseCode } from '@rhizome/protocol'
import type { DocCreationBudget } from '../connections/DocCreationBudget.js'
import { docCreationKey } from '../connections/DocCreationBudget.js'
import type { OutboundBudget } from '../connections/OutboundBudget.js'
import type { AdmittedClient } from '../connections/UpgradeRouter.js'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import type { AckSource } from './AckTracker.js'
import { ClientConnection } from './ClientConnection.js'
import type { DocRegistry } from './DocRegistry.js'

/** What the document sockets need from the relay. */
export interface ClientHubHost {
  readonly docs: DocRegistry
  readonly log: Logger
  readonly metrics: RelayMetrics
  readonly outbound: OutboundBudget
  readonly newDocs: DocCreationBudget
  /** Current ack targets of every caught-up peer link. */
  ackTargets(): Map<AckSource, number>
}

/** The relay options document sockets use. */
export interface ClientHubOptions {
  maxBufferedBytes: number
  maxMessageBytes: number
  rateMessages: number
  rateBytes: number
}

/** Who would create a document: the keys of the new-document budget. */
export interface DocumentCreator {
  name: string
  grant: { sub?: string }
  ip: string
  token: string | null
}

/**
 * Every stock y-websocket document socket of the relay (docs/PROTOCOL.md sections 2-4): admits a
 * socket against the new-document budget, attaches it to its loaded document, re-evaluates ACKs
 * when peers acknowledge, and closes them all at shutdown. The device-session counterpart is
 * `SessionHub`.
 */
export class ClientHub {
  readonly #connections = new Set<ClientConnection>()

  constructor(
    private readonly host: ClientHubHost,
    private readonly options: ClientHubOptions,
  ) {}

  /**
   * Charges a document `creator` would create (neither stored nor loaded) to its token or anonymous
   * address; false past `--max-new-docs-per-minute`. Shared with the device sessions.
   */
  async admitDocument({ name, grant, ip, token }: DocumentCreator): Promise<boolean> {
    const { docs, newDocs, metrics } = this.host
    const creator = docCreationKey({ ip, sub: grant.sub, token })
    const isNew = async () => docs.loaded(name) === undefined && !(await docs.store.has(name))
    const admitted = await newDocs.admit(creator, isNew)
    if (!admitted) metrics.newDocsRefused.inc()
    return admitted
  }

  /** A socket passed admission and auth: attaches it to its document once that is loaded. */
  accept(client: AdmittedClient): void {
    this.#accept(client).catch((err) => {
      this.host.log.error({ err, doc: client.name }, 'failed to accept a socket')
      client.ws.close(CloseCode.TRANSIENT, 'relay error')
    })
  }

  async #accept({ ws, name, grant, extensions, early, ip }: AdmittedClient): Promise<void> {
    const { docs, metrics, log } = this.host
    // A deleted document: the upgrade completed, no byte of it is sent (docs/PROTOCOL.md section 2).
    if (docs.store.deletedAt(name) !== null) {
      ws.close(CloseCode.DELETED, 'document deleted')
      return
    }
    const doc = docs.acquire(name)
    const conn = new ClientConnection(
      ws,
      doc,
      grant.access,
      extensions,
      {
        metrics,
        log,
        maxBufferedBytes: this.options.maxBufferedBytes,
        outbound: this.host.outbound,
        maxPendingBytes: Math.max(this.options.maxMessageBytes * 2, 1024 * 1024),
        ackTargets: () => this.host.ackTargets(),
        onConnectionClosed: (closed) => this.#onClosed(closed),
      },
      { rateMessages: this.options.rateMessages, rateBytes: this.options.rateBytes },
      grant.sub,
      ip,
    )
    if (grant.exp !== undefined) conn.expireAt(grant.exp)
    this.#connections.add(conn)
    metrics.connections.inc()
    doc.attach(conn)
    for (const data of early) ws.emit('message', data, true)
    try {
      await doc.ready
    } catch (err) {
      docs.onLoadFailure(doc, err)
      conn.close(CloseCode.TRANSIENT, 'document is being repaired')
      return
    }
    conn.start()
  }

  #onClosed(conn: ClientConnection): void {
    if (!this.#connections.delete(conn)) return
    this.host.metrics.connections.dec()
    conn.doc.detach(conn)
  }

  /** Peer acknowledgements arrived: connections waiting for copies re-evaluate. */
  onPeerAck(): void {
    for (const conn of this.#connections) if (conn.hasPendingAcks) conn.reevaluateAcks()
  }

  /** Closes every document socket (1001 at shutdown, after the flush). */
  closeAll(code: number, reason: string): void {
    for (const conn of [...this.#connections]) conn.close(code, reason)
  }
}
