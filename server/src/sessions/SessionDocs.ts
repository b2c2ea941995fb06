import {
  CloseCode,
  closeCodeFor,
  ErrorCode,
  isEmptyUpdate,
  isRhizomeError,
  RhizomeError,
  type SessionMessage,
  type TokenAccess,
} from '@rhizome/protocol'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import type { AckSource } from '../docs/AckTracker.js'
import { applyClientAwareness } from '../docs/applyClientAwareness.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { applyDeviceUpdate, wouldChangeDoc } from './applyDeviceUpdate.js'
import { SessionAcks } from './SessionAcks.js'
import { SessionDocClient, type SessionDocOwner } from './SessionDocClient.js'

/** Documents one session may have open at once (each is held in memory). */
export const MAX_OPEN_DOCS = 1000

/** The session messages that concern one document. */
export type DocFrame = Extract<SessionMessage, { type: 'sync' | 'open' | 'close' | 'awareness' }>

/** What the per-document handling needs from the relay. */
export interface SessionDocsContext {
  readonly docs: DocRegistry
  readonly log: Logger
  readonly metrics: RelayMetrics
  /** Current ack targets of every caught-up peer link. */
  ackTargets(): Map<AckSource, number>
  /**
   * Charges a document the session would create (neither stored nor loaded) to its token or
   * address (`--max-new-docs-per-minute`); false past the budget.
   */
  admitDocument(name: string, session: SessionDocsOwner): Promise<boolean>
}

/**
 * What the per-document handling needs from its session. The session object is also the origin
 * of the updates it applies, so that the live feed never sends them back to it.
 */
export interface SessionDocsOwner {
  readonly closed: boolean
  readonly grant: { readonly access: TokenAccess; readonly sub?: string }
  /** Remote address and presented token: the keys of the new-document budget. */
  readonly ip: string
  readonly token: string | null
  /** The access the session has on `name` (null: not granted). */
  accessOf(name: string): Promise<TokenAccess | null>
  /** Live updates of `name` go to the session from now on (a document synced or opened explicitly). */
  follow(name: string): void
  send(message: SessionMessage): void
  /** Resolves once the socket's unsent bytes are under the high-water mark. */
  whenDrained(): Promise<void>
}

/**
 * The per-document side of a device session (docs/PROTOCOL.md section 7.2, steps 5, 7 and 10):
 * sync answers, device updates and their ACKs, refusals, and the documents the device has open
 * (awareness). The caller runs the frames of one document in order.
 */
export class SessionDocs implements SessionDocOwner {
  readonly acks: SessionAcks
  /** Documents refused on this session: their frames are ignored. */
  readonly #refused = new Set<string>()
  readonly #open = new Map<string, SessionDocClient>()

  constructor(
    private readonly session: SessionDocsOwner,
    private readonly context: SessionDocsContext,
  ) {
    this.acks = new SessionAcks((doc, n, copies, receivedAt) => {
      context.metrics.ackSeconds.observe({ copies: String(copies) }, (performance.now() - receivedAt) / 1000)
      if (!session.closed) session.send({ type: 'ack', doc, n, copies })
    })
  }

  /**
   * Handles one frame of one document.
   * @throws RhizomeError PROTOCOL_MALFORMED (4400), PROTOCOL_TOO_LARGE (4413), RATE_LIMITED (4429):
   * the session closes with that code.
   */
  async handle(frame: DocFrame): Promise<void> {
    const { doc } = frame
    if (this.#refused.has(doc)) return
    if (frame.type === 'close') return this.#close(doc)
    const access = await this.session.accessOf(doc)
    if (this.#refused.has(doc)) return
    if (access === null) return this.#refuse(doc, CloseCode.FORBIDDEN, 'document not granted')
    // A deleted document: nothing of it is sent or applied; the device is told to drop its copy.
    const deletedAt = this.context.docs.store.deletedAt(doc)
    if (deletedAt !== null) {
      this.session.send({ type: 'deleted', doc, at: deletedAt })
      return this.#refuse(doc, CloseCode.DELETED, 'document deleted')
    }
    try {
      switch (frame.type) {
        case 'open':
          return await this.#openDoc(doc)
        case 'awareness':
          return this.#onAwareness(doc, frame.update)
        case 'sync':
          this.session.follow(doc)
          if (frame.step === 'step1') return await this.#onStep1(doc, frame.payload)
          return await this.#onUpdate(doc, frame.payload, access)
      }
    } catch (err) {
      // The relay repairs a damaged document from its peers; the device may retry on a new session.
      if (isRhizomeError(err, ErrorCode.STORE_CORRUPT)) {
        return this.#refuse(doc, CloseCode.TRANSIENT, 'document is being repaired')
      }
      throw err
    }
  }

  #refuse(doc: string, code: number, reason: string): void {
    this.#refused.add(doc)
    this.context.log.info({ doc, code, reason, sub: this.session.grant.sub }, 'refused a session document')
    this.session.send({ type: 'refused', doc, code, reason })
  }

  async #onStep1(doc: string, stateVector: Uint8Array): Promise<void> {
    try {
      Y.decodeStateVector(stateVector)
    } catch (cause) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'invalid state vector', { cause })
    }
    const { docs } = this.context
    const diff = await docs.diffOf(doc, stateVector)
    const mine = await docs.stateVectorOf(doc)
    if (this.session.closed) return
    this.session.send({ type: 'sync', doc, step: 'step2', payload: diff })
    this.session.send({ type: 'sync', doc, step: 'step1', payload: mine })
    // Thousands of step1s must not pile their answers up in memory.
    await this.session.whenDrained()
  }

  async #onUpdate(doc: string, update: Uint8Array, access: TokenAccess): Promise<void> {
    const { docs, metrics } = this.context
    const n = this.acks.next(doc)
    metrics.updatesIn.inc()
    let held: Promise<void> | null = null
    if (access === 'read') {
      if (await wouldChangeDoc(docs, doc, update)) {
        return this.#refuse(doc, CloseCode.FORBIDDEN, 'read-only token cannot write')
      }
    } else {
      if (!isEmptyUpdate(update) && !(await this.context.admitDocument(doc, this.session))) {
        return this.#refuse(doc, CloseCode.RATE_LIMITED, 'too many new documents')
      }
      ;({ held } = await applyDeviceUpdate(docs, doc, update, this.session))
    }
    if (this.session.closed) return
    // Part of the update waits for structs the relay lacks; dropped instead (budget, refused by
    // Yjs, reload), the document is refused on this session with the reason.
    held?.catch((err) => this.#refuse(doc, closeCodeFor(err), err instanceof Error ? err.message : 'error'))
    // Targets right after the apply: the sequence numbers that carried it to each peer.
    this.acks.track(
      doc,
      n,
      this.context.ackTargets(),
      docs.whenCommitted(doc),
      held
        ? {
            integrated: held,
            committed: () => docs.whenCommitted(doc),
            targets: () => this.context.ackTargets(),
          }
        : undefined,
    )
  }

  async #openDoc(name: string): Promise<void> {
    if (this.#open.has(name)) return
    if (this.#open.size >= MAX_OPEN_DOCS) {
      throw new RhizomeError(ErrorCode.RATE_LIMITED, `more than ${MAX_OPEN_DOCS} open documents`)
    }
    this.session.follow(name)
    const { docs } = this.context
    const doc = docs.acquire(name)
    const client = new SessionDocClient(doc, this)
    this.#open.set(name, client)
    doc.attach(client)
    try {
      await doc.ready
    } catch (err) {
      docs.onLoadFailure(doc, err)
      this.#close(name)
      throw err
    }
    if (this.session.closed || this.#open.get(name) !== client) return
    const ids = [...doc.awareness.getStates().keys()]
    this.sendAwareness(name, awarenessProtocol.encodeAwarenessUpdate(doc.awareness, ids))
  }

  #close(name: string): void {
    const client = this.#open.get(name)
    if (!client) return
    this.#open.delete(name)
    client.doc.detach(client)
  }

  #onAwareness(name: string, update: Uint8Array): void {
    const client = this.#open.get(name)
    // Presence belongs to documents the device shows; for any other it means nothing.
    if (!client) return
    applyClientAwareness(client.doc, client, update)
  }

  // SessionDocOwner: what the open documents report.

  sendAwareness(doc: string, update: Uint8Array): void {
    if (!this.session.closed) this.session.send({ type: 'awareness', doc, update })
  }

  onDocClientClosed(client: SessionDocClient, code: number, reason: string): void {
    if (this.#open.get(client.doc.name) !== client) return
    this.#close(client.doc.name)
    this.#refuse(client.doc.name, code, reason)
  }

  /** The session ended: leave every open document (their presence states go too). */
  closeAll(): void {
    for (const name of [...this.#open.keys()]) this.#close(name)
    this.acks.clear()
  }
}
