import {
  type ChangeEntry,
  CloseCode,
  closeCodeFor,
  corkUntilTick,
  DEVICE_SESSION_MESSAGES,
  decodeSessionMessage,
  ErrorCode,
  encodeSessionMessage,
  isValidDocName,
  RhizomeError,
  SESSION_PROTOCOL_VERSION,
  type SessionMessage,
  type TokenAccess,
} from '@rhizome/protocol'
import type { WebSocket } from 'ws'
import { TokenBucket } from '../connections/TokenBucket.js'
import type { SessionGrant } from '../connections/UpgradeRouter.js'
import { KeyedQueue } from './KeyedQueue.js'
import { changedSince, matchingDocs } from './roundListing.js'
import { type DocFrame, SessionDocs, type SessionDocsContext, type SessionDocsOwner } from './SessionDocs.js'
import { SessionGrants } from './SessionGrants.js'
import { anyPattern, checkPatterns, MAX_SESSION_PATTERNS } from './sessionPatterns.js'
import { WelcomeGate } from './WelcomeGate.js'

/** Entries per `changes` page. */
const PAGE_ENTRIES = 256
/** Unsent bytes above which listings and sync answers wait for the socket to drain. */
const SEND_HIGH_WATER = 1024 * 1024

/** What a session needs from the relay. */
export interface SessionHost extends SessionDocsContext {
  readonly relayId: string
  /** Outbound bytes a session may have queued before it is closed as a slow reader (4500). */
  readonly maxBufferedBytes: number
  /** Live updates of documents `pattern` matches go to `session` from now on. */
  subscribe(session: DeviceSession, pattern: string): void
  /** Live updates of the document `name` go to `session` from now on. */
  subscribeDoc(session: DeviceSession, name: string): void
  /** True when live updates of `name` go to `session`. */
  isSubscribed(session: DeviceSession, name: string): boolean
  onSessionClosed(session: DeviceSession): void
}

/** The token buckets of one session (already scaled for a session, see docs/PROTOCOL.md 7.2). */
export interface SessionLimits {
  rateMessages: number
  rateBytes: number
}

/**
 * One device session on `/_session` (docs/PROTOCOL.md section 7.2): one WebSocket carrying every
 * document a device replicates. It owns the session's lifecycle (hello, welcome, rounds of
 * `changes`, checkpoints, expiry, close codes) and dispatches per-document frames to
 * {@link SessionDocs}. Frames of one document are handled in order; documents run concurrently.
 */
export class DeviceSession implements SessionDocsOwner {
  readonly #patterns: string[] = []
  readonly #messages: TokenBucket | null
  readonly #bytes: TokenBucket | null
  readonly #queue: KeyedQueue
  readonly #docs: SessionDocs
  #hello = false
  #welcomed: Promise<void> | null = null
  readonly #welcomeGate = new WelcomeGate()
  #rounds: Promise<void> = Promise.resolve()
  #round = 0
  #roundsRunning = 0
  /** The relay head the device was last told about: a round's `seq` or a `checkpoint`. */
  #checkpointSeq = -1
  #closed = false
  #expiry: ReturnType<typeof setTimeout> | null = null

  readonly #grants: SessionGrants
  /** Remote address (per-IP budgets). */
  readonly ip: string
  /** The token the session presented, if any (budgets of tokens without `sub`). */
  readonly token: string | null

  constructor(
    readonly ws: WebSocket,
    readonly grant: SessionGrant,
    client: {
      ip: string
      token: string | null
      authorizeDoc: ((doc: string) => Promise<TokenAccess>) | null
    },
    private readonly host: SessionHost,
    limits: SessionLimits,
  ) {
    this.ip = client.ip
    this.token = client.token
    this.#grants = new SessionGrants(grant, client.authorizeDoc)
    this.#messages =
      limits.rateMessages > 0 ? new TokenBucket(limits.rateMessages, limits.rateMessages * 2) : null
    this.#bytes = limits.rateBytes > 0 ? new TokenBucket(limits.rateBytes, limits.rateBytes * 2) : null
    this.#queue = new KeyedQueue({
      onError: (err) => this.#fail(err),
      onPressure: (high) => (high ? ws.pause() : ws.resume()),
    })
    this.#docs = new SessionDocs(this, host)
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onFrame(data, isBinary))
    ws.on('close', () => this.#onClose())
    ws.on('error', () => this.#onClose())
    if (grant.exp !== undefined) this.#expireAt(grant.exp)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The access the session has on `name` when known now (null: not granted; undefined: ask {@link accessOf}). */
  accessKnown(name: string): TokenAccess | null | undefined {
    return this.#grants.known(name)
  }

  /** The access the session has on `name` (null: not granted). */
  accessOf(name: string): Promise<TokenAccess | null> {
    return this.#grants.accessOf(name)
  }

  /** True when the session may read `name`. */
  async grants(name: string): Promise<boolean> {
    return (await this.#grants.accessOf(name)) !== null
  }

  /**
   * Delivers a live update frame of `name` once the `authenticate` hook granted the document to
   * this session (frames of one document keep their order: they wait on the same answer).
   */
  deliverWhenGranted(name: string, frame: Uint8Array): void {
    void this.#grants.accessOf(name).then((access) => {
      if (access !== null) this.deliver(frame)
    })
  }

  /** Live updates of `name` go to this session from now on (it was synced or opened explicitly). */
  follow(name: string): void {
    if (!this.host.isSubscribed(this, name)) this.host.subscribeDoc(this, name)
  }

  /** Handles the frames of the socket; `early` are those that arrived while the token was checked. */
  start(early: Buffer[]): void {
    for (const data of early) this.#onFrame(data, true)
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return
    const { metrics } = this.host
    metrics.bytesIn.inc(data.length)
    metrics.sessionBytes.inc({ direction: 'in' }, data.length)
    metrics.sessionFrames.inc({ direction: 'in' })
    if (!isBinary) return this.close(CloseCode.MALFORMED, 'text frames are not part of the protocol')
    if (!(this.#messages?.take(1) ?? true) || !(this.#bytes?.take(data.length) ?? true)) {
      return this.close(CloseCode.RATE_LIMITED, 'rate limit exceeded')
    }
    let message: SessionMessage
    try {
      message = decodeSessionMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      if (!DEVICE_SESSION_MESSAGES.has(message.type)) {
        throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `devices may not send ${message.type}`)
      }
      if (!this.#hello) {
        if (message.type !== 'hello') {
          throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'the first message must be hello')
        }
      } else if (message.type === 'hello') {
        throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'hello sent twice')
      }
      if ('doc' in message && !isValidDocName(message.doc)) {
        throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'invalid document name')
      }
      this.#dispatch(message)
    } catch (err) {
      this.#fail(err)
    }
  }

  #dispatch(message: SessionMessage): void {
    switch (message.type) {
      case 'hello': {
        if (message.version !== SESSION_PROTOCOL_VERSION) {
          throw new RhizomeError(
            ErrorCode.PROTOCOL_MALFORMED,
            `unsupported session version ${message.version}`,
          )
        }
        const patterns = this.#addPatterns(message.patterns)
        this.#hello = true
        let welcomed!: () => void
        this.#welcomed = new Promise((resolve) => {
          welcomed = resolve
        })
        const checkpoint = message.checkpoint
        const matches = anyPattern(patterns)
        this.#startRound(async () => {
          const { docs } = this.host
          // Subscribe first, then wait for everything applied so far to be committed: each change
          // is then either in the store by the time the head is read, or forwarded live.
          for (const p of patterns) this.host.subscribe(this, p)
          await docs.whenAllCommitted()
          const head = docs.store.changeSeq
          const resumed =
            checkpoint !== null && checkpoint.storeId === docs.store.id && checkpoint.seq <= head
          this.send({
            type: 'welcome',
            version: SESSION_PROTOCOL_VERSION,
            relayId: this.host.relayId,
            storeId: docs.store.id,
            seq: head,
            resumed,
          })
          for (const frame of this.#welcomeGate.open()) this.deliver(frame)
          welcomed()
          const wants = async (name: string) => matches(name) && (await this.grants(name))
          return {
            head,
            entries: resumed
              ? changedSince(docs, checkpoint.seq, wants)
              : matchingDocs(docs, patterns, wants),
          }
        })
        return
      }
      case 'replicate': {
        const patterns = this.#addPatterns(message.patterns)
        const wants = anyPattern(patterns)
        this.#startRound(async () => {
          const { docs } = this.host
          for (const p of patterns) this.host.subscribe(this, p)
          await docs.whenAllCommitted()
          const head = docs.store.changeSeq
          const entries = matchingDocs(
            docs,
            patterns,
            async (name) => wants(name) && (await this.grants(name)),
          )
          return { head, entries }
        })
        return
      }
      case 'delete':
        // Tombstones come with deletion (docs/PROTOCOL.md section 9); until then a delete is ignored.
        this.host.log.debug({ doc: message.doc, sub: this.grant.sub }, 'ignored a session delete')
        return
      case 'sync':
      case 'open':
      case 'close':
      case 'awareness':
        return this.#queueDocFrame(message)
    }
  }

  #queueDocFrame(frame: DocFrame): void {
    const welcomed = this.#welcomed
    this.#queue.run(frame.doc, async () => {
      await welcomed
      if (!this.#closed) await this.#docs.handle(frame)
    })
  }

  /** Validates and adds patterns; returns the given ones without repeats. */
  #addPatterns(patterns: string[]): string[] {
    checkPatterns(patterns)
    const unique = [...new Set(patterns)]
    for (const p of unique) if (!this.#patterns.includes(p)) this.#patterns.push(p)
    if (this.#patterns.length > MAX_SESSION_PATTERNS) {
      throw new RhizomeError(ErrorCode.RATE_LIMITED, `more than ${MAX_SESSION_PATTERNS} patterns`)
    }
    return unique
  }

  /**
   * Queues one listing round after the previous ones: `prepare` subscribes and picks the entries;
   * the entries go out as `changes` pages. Checkpoints wait until no round is running.
   */
  #startRound(prepare: () => Promise<{ head: number; entries: AsyncIterable<ChangeEntry> }>): void {
    const round = ++this.#round
    this.#roundsRunning++
    this.#rounds = this.#rounds
      .then(async () => {
        if (this.#closed) return
        const { head, entries } = await prepare()
        let page: ChangeEntry[] = []
        for await (const entry of entries) {
          if (this.#closed) return
          page.push(entry)
          if (page.length >= PAGE_ENTRIES) {
            this.send({ type: 'changes', round, entries: page, last: false, seq: head })
            page = []
            await this.whenDrained()
          }
        }
        this.send({ type: 'changes', round, entries: page, last: true, seq: head })
        this.#checkpointSeq = Math.max(this.#checkpointSeq, head)
      })
      .catch((err) => this.#fail(err))
      .finally(() => {
        this.#roundsRunning--
      })
  }

  /**
   * Sends `checkpoint {seq: head}` when no round is running and the relay's head advanced past what
   * the device was last told (docs/PROTOCOL.md section 7.2, step 9). The relay calls it once a second.
   */
  maybeCheckpoint(head: number): void {
    if (this.#closed || this.#roundsRunning > 0 || this.#checkpointSeq < 0 || head <= this.#checkpointSeq) {
      return
    }
    this.#checkpointSeq = head
    this.send({ type: 'checkpoint', seq: head })
  }

  /** Sends a live update frame (already encoded) of a document this session replicates. */
  deliver(frame: Uint8Array): void {
    if (this.#closed || this.#welcomeGate.hold(frame)) return
    this.host.metrics.updatesOut.inc()
    this.sendFrame(frame)
  }

  /** Sends one session message. */
  send(message: SessionMessage): void {
    this.sendFrame(encodeSessionMessage(message))
  }

  /** Sends a frame; a reader too slow to keep its buffer under the bound is closed instead. */
  sendFrame(frame: Uint8Array): void {
    const { ws, host } = this
    if (this.#closed || ws.readyState !== ws.OPEN) return
    if (ws.bufferedAmount + frame.length > host.maxBufferedBytes) {
      this.close(CloseCode.TRANSIENT, 'send buffer full: reader too slow')
      ws.terminate()
      return
    }
    host.metrics.bytesOut.inc(frame.length)
    host.metrics.sessionBytes.inc({ direction: 'out' }, frame.length)
    host.metrics.sessionFrames.inc({ direction: 'out' })
    corkUntilTick(ws)
    ws.send(frame)
  }

  /** Resolves once the unsent bytes are under the high-water mark, or the session closed. */
  async whenDrained(): Promise<void> {
    while (!this.#closed && this.ws.bufferedAmount > SEND_HIGH_WATER) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  /** Peer acknowledgements changed: documents waiting for copies re-evaluate. */
  reevaluateAcks(): void {
    this.#docs.acks.reevaluate()
  }

  get hasPendingAcks(): boolean {
    return this.#docs.acks.pending
  }

  /** The token's `exp` (seconds since the epoch) passes: close with 4401. */
  #expireAt(expSeconds: number): void {
    const arm = () => {
      const delay = expSeconds * 1000 - Date.now()
      if (delay <= 0) return this.close(CloseCode.UNAUTHORIZED, 'token expired')
      // setTimeout fires at once for delays past 2^31-1 ms; re-arm in steps instead.
      this.#expiry = setTimeout(arm, Math.min(delay, 2 ** 31 - 1))
      this.#expiry.unref?.()
    }
    arm()
  }

  #fail(err: unknown): void {
    if (this.#closed) return
    if (!(err instanceof RhizomeError)) this.host.log.error({ err, sub: this.grant.sub }, 'session failed')
    this.close(closeCodeFor(err), err instanceof Error ? err.message : 'error')
  }

  /**
   * Closes the session with a close code of docs/PROTOCOL.md section 4. Frames are ignored from
   * then on. (No AUTH message here: that y-websocket frame has no meaning inside a session.)
   */
  close(code: number, reason: string): void {
    if (this.#closed) return
    this.host.metrics.closes.inc({ code: String(code) })
    this.host.log.info({ code, reason, sub: this.grant.sub }, 'closing device session')
    this.ws.close(code, reason.slice(0, 120))
    this.#onClose()
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#expiry) clearTimeout(this.#expiry)
    this.#docs.closeAll()
    this.host.onSessionClosed(this)
  }
}
