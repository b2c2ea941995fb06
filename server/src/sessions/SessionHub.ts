import { CloseCode, encodeSessionMessage } from '@rhizome/protocol'
import type { AdmittedSession } from '../connections/UpgradeRouter.js'
import type { AckSource } from '../docs/AckTracker.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { DeviceSession, type SessionHost } from './DeviceSession.js'
import type { SessionDocsOwner } from './SessionDocs.js'
import { SessionFeed } from './SessionFeed.js'

/** A session's message bucket is this many times a socket's (`--rate-messages`): it carries many documents. */
export const SESSION_RATE_MESSAGES_FACTOR = 10
/** A session's byte bucket is this many times a socket's (`--rate-bytes`). */
export const SESSION_RATE_BYTES_FACTOR = 4
/** How often sessions are offered a checkpoint (docs/PROTOCOL.md section 7.2: at most once a second). */
const CHECKPOINT_INTERVAL_MS = 1000

/** What the sessions need from the relay. */
export interface SessionHubHost {
  readonly relayId: string
  readonly docs: DocRegistry
  readonly log: Logger
  readonly metrics: RelayMetrics
  /** Current ack targets of every caught-up peer link. */
  ackTargets(): Map<AckSource, number>
  /** The new-document budget (see `SessionDocsContext.admitDocument`). */
  admitDocument(name: string, session: SessionDocsOwner): Promise<boolean>
}

/** The relay options the sessions use. */
export interface SessionOptions {
  maxBufferedBytes: number
  rateMessages: number
  rateBytes: number
}

/**
 * Every device session of the relay (docs/PROTOCOL.md section 7.2): accepts them, routes each live
 * update of a document to the sessions that replicate it (never back to the one it came from),
 * offers checkpoints once a second, re-evaluates their ACKs when peers acknowledge, and closes
 * them at shutdown.
 */
export class SessionHub {
  readonly #sessions = new Set<DeviceSession>()
  readonly #feed = new SessionFeed<DeviceSession>()
  readonly #sessionHost: SessionHost
  #timer: ReturnType<typeof setInterval> | null = null

  constructor(
    private readonly host: SessionHubHost,
    private readonly options: SessionOptions,
  ) {
    const feed = this.#feed
    this.#sessionHost = {
      relayId: host.relayId,
      docs: host.docs,
      log: host.log,
      metrics: host.metrics,
      maxBufferedBytes: options.maxBufferedBytes,
      ackTargets: () => host.ackTargets(),
      admitDocument: (name, session) => host.admitDocument(name, session),
      subscribe: (session, pattern) => feed.addPattern(session, pattern),
      subscribeDoc: (session, name) => feed.addDoc(session, name),
      isSubscribed: (session, name) => feed.has(session, name),
      onSessionClosed: (session) => this.#onClosed(session),
    }
  }

  /** Open sessions. */
  get size(): number {
    return this.#sessions.size
  }

  /** Starts the checkpoint timer. */
  start(): void {
    this.#timer = setInterval(() => {
      const head = this.host.docs.store.changeSeq
      for (const session of this.#sessions) session.maybeCheckpoint(head)
    }, CHECKPOINT_INTERVAL_MS)
    this.#timer.unref()
  }

  /** Takes over a socket that passed admission and auth on `/_session`. */
  accept({ ws, grant, early, ip, token, authorizeDoc }: AdmittedSession): DeviceSession {
    const { rateMessages, rateBytes } = this.options
    const session = new DeviceSession(ws, grant, { ip, token, authorizeDoc }, this.#sessionHost, {
      rateMessages: rateMessages * SESSION_RATE_MESSAGES_FACTOR,
      rateBytes: rateBytes * SESSION_RATE_BYTES_FACTOR,
    })
    this.#sessions.add(session)
    this.host.metrics.sessions.set(this.#sessions.size)
    session.start(early)
    return session
  }

  /** True when `origin` (of an update) is one of the sessions. */
  owns(origin: unknown): boolean {
    return this.#sessions.has(origin as DeviceSession)
  }

  /**
   * An update of `name` was applied (or handed to the store): sends it as `sync update` to every
   * session that replicates the document and whose token grants it, except `origin`. Called before
   * the update's commit resolves, which is what makes checkpoints true.
   */
  publish(name: string, update: Uint8Array, origin: unknown): void {
    if (this.#sessions.size === 0) return
    let frame: Uint8Array | null = null
    for (const session of this.#feed.subscribersOf(name)) {
      if (session === origin || session.closed) continue
      const access = session.accessKnown(name)
      if (access === null) continue
      frame ??= encodeSessionMessage({ type: 'sync', doc: name, step: 'update', payload: update })
      if (access === undefined) session.deliverWhenGranted(name, frame)
      else session.deliver(frame)
    }
  }

  /**
   * `name` was deleted at `at` (docs/PROTOCOL.md section 9): every session replicating it whose
   * token grants it is told `deleted`, so that the device drops its copy.
   */
  notifyDeleted(name: string, at: number): void {
    for (const session of this.#feed.subscribersOf(name)) {
      if (session.closed || session.accessKnown(name) === null) continue
      session.send({ type: 'deleted', doc: name, at })
    }
  }

  /** Peer acknowledgements arrived: sessions waiting for copies re-evaluate. */
  onPeerAck(): void {
    for (const session of this.#sessions) if (session.hasPendingAcks) session.reevaluateAcks()
  }

  /** Closes every session with `code` (1001 at shutdown, after the flush). */
  closeAll(code: number = CloseCode.GOING_AWAY, reason = 'relay shutting down'): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    for (const session of [...this.#sessions]) session.close(code, reason)
  }

  #onClosed(session: DeviceSession): void {
    if (!this.#sessions.delete(session)) return
    this.#feed.remove(session)
    this.host.metrics.sessions.set(this.#sessions.size)
  }
}
