import {
  type SessionCheckpoint,
  type SessionMessage,
  type SessionSyncStep,
} from '@rhizome/protocol'
import type { CheckpointStore } from './CheckpointStore.js'
import type { DocLocks } from './DocLocks.js'
import { DocLink, type LinkDoc, type LinkSession } from './DocLink.js'
import type { LocalDocs } from './LocalDocs.js'
import { coveringPrefixes, matchesAny } from './patterns.js'
import type { RelaySession, SessionHost, SessionWelcome } from './RelaySession.js'
import { SessionFrames } from './SessionFrames.js'

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
}

/** An open document as a session sees it. */
export interface SessionDoc extends LinkDoc {
  /** The session was welcomed: the document gets its link on it. */
  attach(sync: SessionSync): void
  /** The session went down: the document drops its link on it. */
  detach(sync: SessionSync): void
}

/** One listing round of the relay (spec step 3): `hello` starts round 1, each `replicate` the next. */
interface Round {
  readonly number: number
  readonly patterns: string[]
  readonly resumed: boolean
  /** Documents the relay listed (kept for a round that is not resumed: the others are pushed). */
  readonly listed: Set<string>
  pagesDone: boolean
  /** Tasks queued or running for this round. */
  tasks: number
  /** Round 1 also walks the local change feed (resumed) or waits for the start sequence; false until done. */
  localDone: boolean
}

/** Listing entries worked on at once per session (each may wait for one step1 round trip). */
const CONCURRENCY = 32
/** Above this many buffered bytes a push waits for the socket to drain. */
const HIGH_WATER = 1 << 20

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
  /** Incremented at every welcome and every loss of the socket: work of an older epoch stops. */
  #epoch = 0
  #frames = new SessionFrames()
  readonly #links = new Map<string, DocLink>()
  readonly #rounds = new Map<number, Round>()
  #nextRound = 1
  #helloPatterns: string[] = []
  /** Rounds of our own (owed documents) are numbered below 1, apart from the relay's. */
  #ownRound = 0
  /** Patterns of the completed rounds on this socket. */
  #covered: string[] = []
  #allComplete = false
  #storeId = ''
  /** The local change sequence at round 1's start: the local checkpoint once everything is acknowledged. */
  #localStart: number | null = null
  /** Step1s sent and not answered yet: index -> document (insertion order = age). */
  readonly #step1Open = new Map<number, string>()
  readonly #step1Waiters = new Map<string, Array<{ index: number; resolve: () => void }>>()
  #step1Index = 0
  /** Relay step1s being answered (a diff is being read). */
  #answering = 0
  /** Documents changed locally by another session's answers while this one was mid-round. */
  readonly #owed = new Set<string>()
  #pendingCheckpoint: { seq: number; barrier: number } | null = null
  #savingCheckpoint = false
  #advancingLocal = false
  /** A document the relay granted on this socket (answered or acknowledged): the barrier of whenCaughtUp. */
  #granted: string | null = null
  readonly #queue: Array<() => Promise<void>> = []
  #active = 0
  readonly #waiters = new Set<() => void>()
  #closed = false

  constructor(session: (host: SessionHost) => RelaySession, host: SyncHost, checkpoints: CheckpointStore) {
    this.#host = host
    this.#checkpoints = checkpoints
    this.session = session(this)
  }

  /** True once every round of the current socket is complete (the session is `synced`). */
  get caughtUp(): boolean {
    return this.session.ready && this.#allComplete
  }

  /** The link of open document `doc` on this session, if any. */
  linkOf(doc: string): DocLink | undefined {
    return this.#links.get(doc)
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
    this.#startRound(patterns, false)
    this.session.send({ type: 'replicate', patterns })
  }

  /**
   * Resolves true once the local store holds everything this relay held when it was called: every
   * round complete, then one more request answered (everything the relay sent before its answer has
   * arrived), then applied and durable locally. Waits across reconnects; false once closed.
   */
  async whenCaughtUp(): Promise<boolean> {
    for (;;) {
      if (!(await this.#until(() => this.caughtUp))) return false
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
    this.#closed = true
    this.#notify()
    await this.session.close()
  }

  // ---- LinkSession ---------------------------------------------------------------------------

  /** See {@link LinkSession.sendSync}. */
  sendSync(doc: string, step: SessionSyncStep, payload: Uint8Array): number | null {
    if (!this.session.ready || this.#frames.isRefused(doc)) return null
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
    if (kind === 'answer' && !this.#allComplete) this.#owed.add(doc)
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
    const round1 = this.#startRound(this.#helloPatterns, welcome.resumed)
    round1.localDone = false
    // Patterns the checkpoint did not cover (or added since the hello) get a full round of their
    // own, so that the others stay resumed.
    const extra = this.#host.patterns().filter((p) => !this.#helloPatterns.includes(p))
    if (extra.length > 0) this.replicate(extra)
    for (const doc of this.#host.openDocs()) doc.attach(this)
    void this.#startLocal(epoch, round1, welcome)
    return true
  }

  /** See {@link SessionHost.onMessage}. */
  onMessage(_session: RelaySession, m: SessionMessage): void {
    switch (m.type) {
      case 'changes':
        this.#onChanges(m.round, m.entries, m.last)
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
        this.#answered(m.doc, true)
        this.#links.get(m.doc)?.onRefused(m.code, m.reason)
        break
      case 'awareness':
        this.#links.get(m.doc)?.onAwareness(m.update)
        break
      case 'checkpoint':
        if (this.#pendingCheckpoint === null || m.seq > this.#pendingCheckpoint.seq) {
          this.#pendingCheckpoint = { seq: m.seq, barrier: this.#step1Index }
        }
        void this.#saveCheckpoint()
        break
      default:
        // `deleted` (tombstones) and relay-only types: nothing to do for a device yet.
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
    this.#notify()
  }

  // ---- rounds --------------------------------------------------------------------------------

  #startRound(patterns: string[], resumed: boolean, own = false): Round {
    const round: Round = {
      number: own ? this.#ownRound-- : this.#nextRound++,
      patterns: [...patterns],
      resumed,
      listed: new Set(),
      pagesDone: false,
      tasks: 0,
      localDone: true,
    }
    this.#rounds.set(round.number, round)
    this.#allComplete = false
    this.session.markSyncing()
    return round
  }

  /** Round 1's local part: the local start sequence, and for a resumed round the local changes since. */
  async #startLocal(epoch: number, round: Round, welcome: SessionWelcome): Promise<void> {
    const { local } = this.#host
    try {
      // Everything issued before the welcome is committed before the start sequence is read; what
      // comes later is sent live on this socket (it is welcomed now).
      await local.whenIssued()
      await local.store.flush()
      if (epoch !== this.#epoch) return
      this.#localStart = local.store.changeSeq
      if (welcome.resumed) {
        const since = this.#checkpoints.localSeqFor(welcome.storeId)
        for await (const change of local.store.changesSince(since)) {
          if (epoch !== this.#epoch) return
          if (change.seq > this.#localStart) break
          if (matchesAny(round.patterns, change.name)) this.#enqueue(round, () => this.#offer(change.name))
        }
      }
    } catch {
      if (epoch !== this.#epoch) return
      // The store closed under us: the replica is closing.
    }
    if (epoch !== this.#epoch) return
    round.localDone = true
    this.#checkRounds()
  }

  #onChanges(number: number, entries: Array<{ doc: string; digest: string; deletedAt?: number }>, last: boolean): void {
    const round = this.#rounds.get(number)
    if (round === undefined) return
    for (const entry of entries) {
      if (entry.deletedAt !== undefined) continue
      if (!round.resumed) round.listed.add(entry.doc)
      this.#enqueue(round, () => this.#offer(entry.doc, entry.digest))
    }
    if (!last) return
    round.pagesDone = true
    if (!round.resumed) this.#enqueue(round, () => this.#pushAbsent(round))
    this.#checkRounds()
  }

  /**
   * One document of a round: unless the local digest equals the relay's, a step1 exchange (the
   * relay answers with what we lack and asks for what it lacks). Open documents are synced by
   * their link; each document once per round.
   */
  async #offer(doc: string, digest?: string): Promise<void> {
    if (this.#frames.isRefused(doc) || this.#host.local.openDoc(doc) !== undefined) return
    const epoch = this.#epoch
    const release = await this.#host.locks.acquire(doc)
    try {
      if (epoch !== this.#epoch) return
      this.#owed.delete(doc)
      const { local } = this.#host
      if (digest !== undefined && (await local.digest(doc)) === digest) return
      const sv = await local.stateVector(doc)
      if (epoch === this.#epoch) await this.#exchange(doc, sv)
    } finally {
      release()
    }
  }

  /** A round that is not resumed: local documents of its patterns the relay did not list are pushed whole. */
  async #pushAbsent(round: Round): Promise<void> {
    const epoch = this.#epoch
    const { local } = this.#host
    for (const prefix of coveringPrefixes(round.patterns)) {
      for await (const entry of local.store.catalog({ prefix })) {
        if (epoch !== this.#epoch) return
        const doc = entry.name
        if (round.listed.has(doc) || entry.corrupt || !matchesAny(round.patterns, doc)) continue
        if (this.#frames.isRefused(doc) || local.openDoc(doc) !== undefined) continue
        this.#owed.delete(doc)
        const state = await local.fullState(doc)
        if (epoch !== this.#epoch) return
        this.sendSync(doc, 'step2', state)
        await this.#drained()
      }
    }
  }

  #enqueue(round: Round, task: () => Promise<void>): void {
    round.tasks++
    const epoch = this.#epoch
    this.#queue.push(async () => {
      try {
        if (epoch === this.#epoch) await task()
      } catch {
        // A failed local read (a closing store, a corrupt document): the next round tries again.
      } finally {
        round.tasks--
        if (epoch === this.#epoch) this.#checkRounds()
      }
    })
    this.#pump()
  }

  #pump(): void {
    while (this.#active < CONCURRENCY && this.#queue.length > 0) {
      const task = this.#queue.shift()!
      this.#active++
      void task().finally(() => {
        this.#active--
        this.#pump()
      })
    }
  }

  #checkRounds(): void {
    if (!this.session.ready) return
    for (const round of this.#rounds.values()) {
      if (!round.pagesDone || !round.localDone || round.tasks > 0 || this.#answering > 0) continue
      this.#rounds.delete(round.number)
      for (const p of round.patterns) if (!this.#covered.includes(p)) this.#covered.push(p)
    }
    if (this.#rounds.size > 0 || this.#allComplete || this.#answering > 0) return
    if (this.#owed.size > 0) {
      // Content that arrived from other relays while this round ran, for documents it did not
      // compare afterwards: offer each once more, in a round of its own.
      const round = this.#startRound([], true, true)
      round.pagesDone = true
      for (const doc of this.#owed) this.#enqueue(round, () => this.#offer(doc))
      this.#owed.clear()
      return
    }
    this.#allComplete = true
    const welcomeSeq = this.session.welcome?.seq ?? 0
    // A completed round listed everything up to the head of its welcome: that is a checkpoint too.
    if (this.#pendingCheckpoint === null || this.#pendingCheckpoint.seq < welcomeSeq) {
      this.#pendingCheckpoint = { seq: welcomeSeq, barrier: this.#step1Index }
    }
    void this.#saveCheckpoint()
    // Everything local up to now is on this relay once acknowledged: what changed before the round
    // started was compared in it, what changed since was sent live or came from this relay.
    void this.#advanceLocal()
    this.session.markSynced()
    this.#notify()
  }

  // ---- sync ----------------------------------------------------------------------------------

  #onSync(doc: string, step: SessionSyncStep, payload: Uint8Array): void {
    // A refused document may still be readable (a read-only token): what arrives is applied; only
    // sending stops (sendSync).
    const link = this.#links.get(doc)
    if (link !== undefined) {
      link.onSync(step, payload)
      if (step === 'step2') this.#answered(doc, false)
      return
    }
    const epoch = this.#epoch
    const { local } = this.#host
    if (step === 'step1') {
      this.#answering++
      local.diff(doc, payload).then(
        (diff) => {
          if (epoch !== this.#epoch) return
          this.#answering--
          this.sendSync(doc, 'step2', diff)
          this.#checkRounds()
        },
        () => {
          if (epoch !== this.#epoch) return
          this.#answering--
          this.#checkRounds()
        },
      )
      return
    }
    local.applyRemote(doc, payload, this.session).then((outcome) => {
      if (epoch !== this.#epoch) return
      if (outcome === 'stored') this.#host.forward(this, doc, payload, step === 'update' ? 'live' : 'answer')
      if (step === 'step2') this.#answered(doc, false)
    })
  }

  /** Sends a step1 and resolves once it is answered (or refused, or the socket is gone). */
  #exchange(doc: string, stateVector: Uint8Array): Promise<void> {
    if (!this.session.ready) return Promise.resolve()
    const index = ++this.#step1Index
    return new Promise<void>((resolve) => {
      let waiters = this.#step1Waiters.get(doc)
      if (waiters === undefined) {
        waiters = []
        this.#step1Waiters.set(doc, waiters)
      }
      waiters.push({ index, resolve })
      this.#step1Open.set(index, doc)
      if (this.sendSync(doc, 'step1', stateVector) === null) this.#answered(doc, true)
    })
  }

  /** A step2 (or a refusal: `all`) answered the oldest (every) step1 of `doc`. */
  #answered(doc: string, all: boolean): void {
    const waiters = this.#step1Waiters.get(doc)
    if (waiters === undefined) return
    for (const w of all ? waiters.splice(0) : waiters.splice(0, 1)) {
      this.#step1Open.delete(w.index)
      w.resolve()
    }
    if (waiters.length === 0) this.#step1Waiters.delete(doc)
    if (!all) this.#granted = doc
    if (this.#pendingCheckpoint !== null) void this.#saveCheckpoint()
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  /**
   * Saves the relay's checkpoint (spec step 9) once (a) every round is complete, (b) every step1
   * sent before it is answered and (c) everything received before it is in the store: putLocal
   * commits after every append issued before it, so waiting until those appends are issued is enough.
   */
  async #saveCheckpoint(): Promise<void> {
    const pending = this.#pendingCheckpoint
    if (pending === null || this.#savingCheckpoint || !this.#allComplete) return
    const oldest = this.#step1Open.keys().next()
    if (!oldest.done && oldest.value <= pending.barrier) return
    const epoch = this.#epoch
    this.#pendingCheckpoint = null
    this.#savingCheckpoint = true
    try {
      await this.#host.local.whenIssued()
      if (epoch !== this.#epoch) return
      await this.#checkpoints.saveRelay(this.#storeId, pending.seq, this.#covered)
    } catch {
      // the store closed: the replica is closing
    } finally {
      if (epoch === this.#epoch) this.#savingCheckpoint = false
    }
    if (epoch !== this.#epoch) return
    void this.#advanceLocal()
    if (this.#pendingCheckpoint !== null) void this.#saveCheckpoint()
  }

  /**
   * Saves the local checkpoint: the current local change sequence, once the relay acknowledged
   * every frame sent so far. Valid once every round is complete and nothing is owed: from the
   * welcome on, every local change is sent on this socket (edits of open documents, and updates
   * from other relays, are passed on live) or came from this relay.
   */
  async #advanceLocal(): Promise<void> {
    if (this.#advancingLocal || !this.#allComplete || this.#owed.size > 0) return
    const epoch = this.#epoch
    this.#advancingLocal = true
    try {
      await this.#host.local.whenIssued()
      await this.#host.local.store.flush()
      const seq = this.#host.local.store.changeSeq
      if (epoch !== this.#epoch) return
      await this.#frames.whenAllAcked()
      if (epoch !== this.#epoch) return
      await this.#checkpoints.saveLocal(this.#storeId, seq)
    } catch {
      // the store closed
    } finally {
      if (epoch === this.#epoch) this.#advancingLocal = false
    }
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
    this.#rounds.clear()
    this.#nextRound = 1
    this.#ownRound = 0
    this.#covered = []
    this.#allComplete = false
    this.#localStart = null
    for (const waiters of this.#step1Waiters.values()) for (const w of waiters) w.resolve()
    this.#step1Waiters.clear()
    this.#step1Open.clear()
    this.#answering = 0
    this.#owed.clear()
    this.#pendingCheckpoint = null
    this.#savingCheckpoint = false
    this.#advancingLocal = false
    this.#granted = null
    this.#queue.length = 0
    this.#notify()
  }

  async #drained(): Promise<void> {
    const ws = this.session
    while (ws.ready && ws.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 10))
  }

  #until(ready: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.#closed) resolve(false)
        else if (ready()) resolve(true)
        else return
        this.#waiters.delete(check)
      }
      this.#waiters.add(check)
      check()
    })
  }

  #notify(): void {
    for (const check of [...this.#waiters]) check()
  }
}
