import type { SessionCheckpoint, SessionMessage, SessionSyncStep } from '@rhizome/protocol'
import { CheckpointKeeper } from './CheckpointKeeper.js'
import type { CheckpointStore } from './CheckpointStore.js'
import { Conditions } from './Conditions.js'
import { DocLink, type LinkDoc, type LinkSession } from './DocLink.js'
import type { DocLocks } from './DocLocks.js'
import type { LocalDocs } from './LocalDocs.js'
import { PendingStep1s } from './PendingStep1s.js'
import type { RelaySession, SessionHost, SessionWelcome } from './RelaySession.js'
import { RoundOffers } from './RoundOffers.js'
import { SessionFrames } from './SessionFrames.js'
import { SessionRounds } from './SessionRounds.js'
import { StoreSteps } from './StoreSteps.js'

/** What a {@link SessionSync} needs of the replica. */
export interface SyncHost {
  readonly local: LocalDocs
  readonly locks: DocLocks
  /** Every pattern the replica replicates right now. */
  patterns(): readonly string[]
  /** The documents open right now (each gets a {@link DocLink} on every welcomed session). */
  openDocs(): Iterable<SessionDoc>
  /** False when another session of the replica is welcomed by the same relay id. */
  acceptRelay(sync: SessionSync, relayId: string): boolean
  /**
   * An update of a document that is not open went into the local store from this session: the
   * other sessions pass it on (`live`: a relay's live update; `answer`: the answer to our step1).
   */
  forward(from: SessionSync, doc: string, update: Uint8Array, kind: 'live' | 'answer'): void
  /** The session's state or status changed. */
  changed(sync: SessionSync): void
  /** The relay deleted `doc` at `at` (a `deleted` message or a listing entry; docs/PROTOCOL.md section 9). */
  deleted(doc: string, at: number): void
}

/** An open document as a session sees it. */
export interface SessionDoc extends LinkDoc {
  /** The session was welcomed: the document gets its link on it. */
  attach(sync: SessionSync): void
  /** The session went down: the document drops its link on it. */
  detach(sync: SessionSync): void
}

/** Listing entries worked on at once per session (each may wait for one step1 round trip). */
const CONCURRENCY = 32

/**
 * The replication protocol on one relay session (docs/PROTOCOL.md section 7.2): rounds of the
 * relay's listing compared with the local store by digest, step1/step2 exchanges for what differs,
 * pushes of local documents a wiped relay lacks, live updates both ways, per-document ACKs, and the
 * two checkpoints (spec step 9) that make the next reconnect cost what changed. Open documents are
 * synced by their {@link DocLink}s; everything else goes between the socket and the store.
 */
export class SessionSync implements SessionHost, LinkSession {
  readonly session: RelaySession
  readonly #host: SyncHost
  readonly #checkpoints: CheckpointStore
  readonly #keeper: CheckpointKeeper
  /** Incremented at every welcome and every loss of the socket: work of an older epoch stops. */
  #epoch = 0
  #frames = new SessionFrames()
  readonly #links = new Map<string, DocLink>()
  readonly #rounds: SessionRounds
  readonly #offers: RoundOffers
  #helloPatterns: string[] = []
  #storeId = ''
  readonly #step1s = new PendingStep1s()
  readonly #steps: StoreSteps
  /** A document the relay granted on this socket (answered or acknowledged): the barrier of whenCaughtUp. */
  #granted: string | null = null
  readonly #conditions = new Conditions()

  constructor(session: (host: SessionHost) => RelaySession, host: SyncHost, checkpoints: CheckpointStore) {
    this.#host = host
    this.#checkpoints = checkpoints
    this.#offers = new RoundOffers({
      local: host.local,
      locks: host.locks,
      rounds: () => this.#rounds,
      epoch: () => this.#epoch,
      refused: (doc) => this.#frames.isRefused(doc),
      exchange: (doc, sv) => this.#exchange(doc, sv),
      push: (doc, state) => this.sendSync(doc, 'step2', state),
      localSeqFor: (storeId) => checkpoints.localSeqFor(storeId),
      socket: () => this.session,
    })
    this.#steps = new StoreSteps({
      local: host.local,
      epoch: () => this.#epoch,
      origin: () => this.session,
      reply: (doc, diff) => this.sendSync(doc, 'step2', diff),
      replied: () => this.#rounds.check(),
      stored: (doc, update, kind) => host.forward(this, doc, update, kind),
      answered: (doc) => this.#answered(doc),
    })
    this.#rounds = new SessionRounds(
      {
        epoch: () => this.#epoch,
        ready: () => this.session.ready,
        answering: () => this.#steps.answering,
        offer: (doc, digest) => this.#offers.offer(doc, digest),
        deleted: (doc, at) => host.deleted(doc, at),
        pushAbsent: (round) => this.#offers.pushAbsent(round),
        started: () => this.session.markSyncing(),
        completed: () => this.#completed(),
      },
      CONCURRENCY,
    )
    this.#keeper = new CheckpointKeeper(
      {
        epoch: () => this.#epoch,
        settled: () => this.#rounds.complete && !this.#rounds.owing,
        storeId: () => this.#storeId,
        covered: () => this.#rounds.covered,
        oldestStep1: () => this.#step1s.oldest,
        whenIssued: () => host.local.whenIssued(),
        localSeq: async () => {
          await host.local.whenIssued()
          await host.local.store.flush()
          return host.local.store.changeSeq
        },
        whenAllAcked: () => this.#frames.whenAllAcked(),
      },
      checkpoints,
    )
    this.session = session(this)
  }

  /** True once every round of the current socket is complete (the session is `synced`). */
  get caughtUp(): boolean {
    return this.session.ready && this.#rounds.complete
  }

  /** Gives open document `doc` its link on this (welcomed) session and starts its sync. */
  attach(doc: SessionDoc): DocLink | null {
    if (!this.session.ready) return null
    let link = this.#links.get(doc.name)
    if (link !== undefined) return link
    link = new DocLink(this, doc, this.#frames.sentOf(doc.name))
    this.#links.set(doc.name, link)
    if (this.#frames.isRefused(doc.name)) link.onRefused(4403, 'refused earlier on this session')
    else link.start()
    return link
  }

  /** Open document `doc` closed: its link stops (the relay is told) and is forgotten. */
  release(doc: string): void {
    const link = this.#links.get(doc)
    if (link === undefined) return
    link.stop()
    this.#links.delete(doc)
  }

  /** Adds patterns: on a welcomed socket they get their own round now; else they go into the next hello. */
  replicate(patterns: string[]): void {
    if (!this.session.ready || patterns.length === 0) return
    this.#rounds.start(patterns, false)
    this.session.send({ type: 'replicate', patterns })
  }

  /**
   * Resolves true once the local store holds everything this relay held when it was called: every
   * round complete, then one more request answered (everything the relay sent before its answer has
   * arrived), then applied and durable locally. Waits across reconnects; false once closed.
   */
  async whenCaughtUp(): Promise<boolean> {
    for (;;) {
      if (!(await this.#conditions.until(() => this.caughtUp))) return false
      const epoch = this.#epoch
      const barrier = this.#granted
      if (barrier !== null) {
        const sv = await this.#host.local.stateVector(barrier)
        if (epoch !== this.#epoch) continue
        await this.#exchange(barrier, sv)
        if (epoch !== this.#epoch) continue
      }
      await this.#host.local.whenIssued()
      await this.#host.local.store.flush()
      if (epoch === this.#epoch) return true
    }
  }

  /** Stops for good: waiters resolve (false), the socket closes. */
  async close(): Promise<void> {
    this.#conditions.close()
    await this.session.close()
  }

  // ---- LinkSession ---------------------------------------------------------------------------

  /** See {@link LinkSession.sendSync}. */
  sendSync(doc: string, step: SessionSyncStep, payload: Uint8Array): number | null {
    // A deleted document is never pushed again, whatever path would send it.
    if (!this.session.ready || this.#frames.isRefused(doc) || this.#host.local.isDeleted(doc)) return null
    const n = step === 'step1' ? 0 : this.#frames.count(doc)
    if (!this.session.send({ type: 'sync', doc, step, payload })) return null
    return n
  }

  /** See {@link LinkSession.sendStep1}. */
  sendStep1(doc: string, stateVector: Uint8Array): void {
    void this.#exchange(doc, stateVector)
  }

  /** See {@link LinkSession.sendControl}. */
  sendControl(
    message: { type: 'open' | 'close'; doc: string } | { type: 'awareness'; doc: string; update: Uint8Array },
  ): void {
    if (!this.#frames.isRefused(message.doc)) this.session.send(message)
  }

  /** Passes on a local update of a document that is not open (see {@link SyncHost.forward}). */
  forward(doc: string, update: Uint8Array, kind: 'live' | 'answer'): void {
    if (!this.session.ready || this.#frames.isRefused(doc)) return
    // A round in progress compares this document by digest anyway (or is told to sync it at its
    // end): sending every answer of one relay to the others would upload a new device's whole
    // download again to each relay of a mesh, which already holds it.
    if (kind === 'answer' && !this.#rounds.complete) this.#rounds.owe(doc)
    else this.sendSync(doc, 'update', update)
  }

  // ---- SessionHost ---------------------------------------------------------------------------

  /** See {@link SessionHost.hello}. */
  async hello(): Promise<{ checkpoint: SessionCheckpoint | null; patterns: string[] }> {
    const patterns = [...this.#host.patterns()]
    const { checkpoint, covered } = await this.#checkpoints.hello(patterns)
    this.#helloPatterns = checkpoint === null ? patterns : covered
    return { checkpoint, patterns: this.#helloPatterns }
  }

  /** See {@link SessionHost.onWelcome}. */
  onWelcome(_session: RelaySession, welcome: SessionWelcome): boolean {
    if (!this.#host.acceptRelay(this, welcome.relayId)) return false
    this.#reset()
    const epoch = this.#epoch
    this.#storeId = welcome.storeId
    const round1 = this.#rounds.start(this.#helloPatterns, welcome.resumed)
    round1.localDone = false
    // Patterns the checkpoint did not cover (or added since the hello) get a full round of their
    // own, so that the others stay resumed.
    const extra = this.#host.patterns().filter((p) => !this.#helloPatterns.includes(p))
    if (extra.length > 0) this.replicate(extra)
    for (const doc of this.#host.openDocs()) doc.attach(this)
    void this.#offers.startLocal(epoch, round1, welcome.resumed ? welcome.storeId : null)
    return true
  }

  /** See {@link SessionHost.onMessage}. */
  onMessage(_session: RelaySession, m: SessionMessage): void {
    switch (m.type) {
      case 'changes':
        this.#rounds.onChanges(m.round, m.entries, m.last)
        break
      case 'sync':
        this.#onSync(m.doc, m.step, m.payload)
        break
      case 'ack':
        this.#frames.ack(m.doc, m.n)
        this.#granted = m.doc
        this.#links.get(m.doc)?.onAck(m.n, m.copies)
        break
      case 'refused':
        this.#frames.refuse(m.doc)
        this.#step1s.answered(m.doc, true)
        this.#links.get(m.doc)?.onRefused(m.code, m.reason)
        break
      case 'awareness':
        this.#links.get(m.doc)?.onAwareness(m.update)
        break
      case 'checkpoint':
        this.#keeper.offer(m.seq, this.#step1s.lastIndex)
        break
      case 'deleted':
        this.#host.deleted(m.doc, m.at)
        break
      default:
        // relay-only types: nothing to do for a device.
        break
    }
  }

  /** See {@link SessionHost.onDown}. */
  onDown(): void {
    this.#reset()
    this.#host.changed(this)
  }

  /** See {@link SessionHost.onStatus}. */
  onStatus(): void {
    this.#host.changed(this)
    this.#conditions.notify()
  }

  // ---- rounds --------------------------------------------------------------------------------

  /** Every round is complete: checkpoints, `synced`, and whoever waits for it. */
  #completed(): void {
    // A completed round listed everything up to the head of its welcome: that is a checkpoint too.
    this.#keeper.offer(this.session.welcome?.seq ?? 0, this.#step1s.lastIndex)
    // Everything local up to now is on this relay once acknowledged: what changed before the round
    // started was compared in it, what changed since was sent live or came from this relay.
    void this.#keeper.advanceLocal()
    this.session.markSynced()
    this.#conditions.notify()
  }

  // ---- sync ----------------------------------------------------------------------------------

  #onSync(doc: string, step: SessionSyncStep, payload: Uint8Array): void {
    // A refused document may still be readable (a read-only token): what arrives is applied; only
    // sending stops (sendSync).
    const link = this.#links.get(doc)
    if (link !== undefined) {
      link.onSync(step, payload)
      if (step === 'step2') this.#answered(doc)
      return
    }
    this.#steps.onSync(doc, step, payload)
  }

  /** Sends a step1 and resolves once it is answered (or refused, or the socket is gone). */
  #exchange(doc: string, stateVector: Uint8Array): Promise<void> {
    if (!this.session.ready) return Promise.resolve()
    const answered = this.#step1s.add(doc)
    if (this.sendSync(doc, 'step1', stateVector) === null) this.#step1s.answered(doc, true)
    return answered
  }

  /** A step2 of `doc` answered our oldest step1 of it. */
  #answered(doc: string): void {
    this.#step1s.answered(doc, false)
    this.#granted = doc
    void this.#keeper.save()
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Forgets everything of the previous socket. */
  #reset(): void {
    this.#epoch++
    this.#frames.abandon()
    this.#frames = new SessionFrames()
    for (const link of this.#links.values()) link.detach()
    if (this.#links.size > 0) for (const doc of this.#host.openDocs()) doc.detach(this)
    this.#links.clear()
    this.#rounds.reset()
    this.#step1s.clear()
    this.#steps.reset()
    this.#keeper.reset()
    this.#granted = null
    this.#conditions.notify()
  }
}
