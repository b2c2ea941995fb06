import {
  decodeAwarenessEntries,
  EMPTY_UPDATE,
  type RhizomeError,
  type SessionSyncStep,
} from '@rhizome/protocol'
import { type Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { refusalError } from './closeError.js'
import { DurabilityTracker } from './DurabilityTracker.js'
import type { RelaySession } from './RelaySession.js'

/** What a {@link DocLink} needs of its session: sending, with the session's frame numbering. */
export interface LinkSession {
  readonly session: RelaySession
  /** Sends a `sync` frame of `doc`; for step2/update returns its number `n`, else 0; null when not sent. */
  sendSync(doc: string, step: SessionSyncStep, payload: Uint8Array): number | null
  /** Sends a step1 the relay must answer (the session tracks the answer for its checkpoints). */
  sendStep1(doc: string, stateVector: Uint8Array): void
  /** Sends `open`, `close` or `awareness` of `doc`. */
  sendControl(
    message: { type: 'open' | 'close'; doc: string } | { type: 'awareness'; doc: string; update: Uint8Array },
  ): void
}

/** What a {@link DocLink} needs of its open document. */
export interface LinkDoc {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: Awareness
  /** The local version (see DurabilityTracker). */
  version(): number
  /** Something in the link's status changed. */
  linkChanged(): void
}

/**
 * One open document on one relay session: the explicit sync of the document (step1 both ways, so
 * that the relay holds the whole local state and the device the relay's), the ACK bookkeeping of
 * its frames ({@link DurabilityTracker}), and its presence (`open`/`awareness`, docs/PROTOCOL.md
 * section 7.2, spec step 10). Lives from the session's welcome (or the document's opening) until
 * the session goes down or the document closes.
 */
export class DocLink {
  readonly tracker = new DurabilityTracker()
  /** Awareness clients this relay told us about on this session. */
  readonly seenClients = new Set<number>()
  readonly #sync: LinkSession
  readonly #doc: LinkDoc
  #gotStep2 = false
  #sentStep2 = false
  #refused: RhizomeError | null = null
  #refusedCode = 0
  #probeQueued = false
  #stopped = false

  /** Frames of this document the session had counted before this link: the tracker counts from there. */
  readonly #framesSoFar: number

  constructor(sync: LinkSession, doc: LinkDoc, framesSoFar: number) {
    this.#sync = sync
    this.#doc = doc
    this.#framesSoFar = framesSoFar
  }

  /** The relay session this link runs on. */
  get session(): RelaySession {
    return this.#sync.session
  }

  /** `synced` once both sides exchanged their state, `refused` after a refusal, else `syncing`. */
  get state(): 'syncing' | 'synced' | 'refused' {
    if (this.#refused !== null) return 'refused'
    return this.#gotStep2 && this.#sentStep2 ? 'synced' : 'syncing'
  }

  /** The refusal, when the relay refused the document. */
  get error(): RhizomeError | null {
    return this.#refused
  }

  /** The code of the refusal (4403, or 4500 for a document the relay is repairing); 0 when none. */
  get refusedCode(): number {
    return this.#refusedCode
  }

  /** Starts the document on the session: `open` (presence), step1, and our presence. */
  start(): void {
    const { name, doc, awareness } = this.#doc
    this.#sync.sendControl({ type: 'open', doc: name })
    this.#sync.sendStep1(name, Y.encodeStateVector(doc))
    if (awareness.getLocalState() !== null) {
      this.sendAwareness(encodeAwarenessUpdate(awareness, [doc.clientID]))
    }
  }

  /** A `sync` message of this document from the relay. */
  onSync(step: SessionSyncStep, payload: Uint8Array): void {
    if (this.#stopped) return
    const { name, doc } = this.#doc
    if (step === 'step1') {
      if (this.#refused !== null) return
      let diff: Uint8Array
      try {
        diff = Y.encodeStateAsUpdate(doc, payload)
      } catch {
        return // not a state vector: the relay misbehaves; the next session syncs again
      }
      const n = this.#sync.sendSync(name, 'step2', diff)
      if (n === null) return
      this.tracker.frameSent('step2', this.#doc.version(), this.#offset(n))
      this.#sentStep2 = true
      this.#doc.linkChanged()
      return
    }
    try {
      Y.applyUpdate(doc, payload, this.session)
    } catch {
      return
    }
    if (step === 'step2' && !this.#gotStep2) {
      this.#gotStep2 = true
      this.#doc.linkChanged()
    }
  }

  /** `ack {doc, n, copies}` for this document. */
  onAck(n: number, copies: number): void {
    if (this.tracker.ack(this.#offset(n), copies)) this.#doc.linkChanged()
  }

  /** The relay refused this document on the session (4403: not granted, or a write on a read-only token). */
  onRefused(code: number, reason: string): void {
    this.#refused = refusalError(this.#doc.name, code, reason)
    this.#refusedCode = code
    this.#doc.linkChanged()
  }

  /** An awareness update of this document from the relay. */
  onAwareness(update: Uint8Array): void {
    if (this.#stopped) return
    try {
      for (const { clientID, state } of decodeAwarenessEntries(update)) {
        if (state === 'null') this.seenClients.delete(clientID)
        else this.seenClients.add(clientID)
      }
      applyAwarenessUpdate(this.#doc.awareness, update, this.session)
    } catch {
      // a broken awareness update changes nothing
    }
  }

  /** Sends a local update (an edit, or an update that came from another relay). */
  sendUpdate(update: Uint8Array): void {
    if (this.#stopped || this.#refused !== null) return
    const n = this.#sync.sendSync(this.#doc.name, 'update', update)
    if (n !== null) this.tracker.frameSent('update', this.#doc.version(), this.#offset(n))
  }

  /** Sends our awareness update. */
  sendAwareness(update: Uint8Array): void {
    if (!this.#stopped) this.#sync.sendControl({ type: 'awareness', doc: this.#doc.name, update })
  }

  /**
   * After an update from this relay changed the local replica, sends it one empty update, so that
   * its ACK covers the new local version: the relay applied what it sent before it processes our
   * later frame (docs/PROTOCOL.md section 3). Once per burst.
   */
  queueProbe(): void {
    if (this.#probeQueued || this.#stopped) return
    this.#probeQueued = true
    queueMicrotask(() => {
      this.#probeQueued = false
      if (this.#stopped || this.#refused !== null || !this.tracker.hasBaseline) return
      const n = this.#sync.sendSync(this.#doc.name, 'update', EMPTY_UPDATE)
      if (n !== null) this.tracker.frameSent('update', this.#doc.version(), this.#offset(n))
    })
  }

  /** The document closes: tells the relay (our presence was removed before) and stops. */
  stop(): void {
    if (this.#stopped) return
    this.#sync.sendControl({ type: 'close', doc: this.#doc.name })
    this.#stopped = true
  }

  /** The session went down: nothing more is sent or counted. */
  detach(): void {
    this.#stopped = true
    this.tracker.reset()
  }

  /** The tracker numbers the frames of this link from 1; the session's numbers start earlier. */
  #offset(n: number): number {
    return n - this.#framesSoFar
  }
}
