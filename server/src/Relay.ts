import { readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import {
  CloseCode,
  closeCodeFor,
  digestOfDoc,
  ErrorCode,
  encodeAuthDenied,
  grantsDoc,
  isRhizomeError,
  parseDocName,
  RhizomeError,
  type TokenAccess,
} from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { type WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import type { AckSource } from './AckTracker.js'
import { TokenVerifier } from './auth.js'
import { ClientConnection } from './ClientConnection.js'
import { handleHttp } from './http.js'
import { createLogger, type Logger, redactUrl } from './logger.js'
import { Mesh } from './Mesh.js'
import { RelayMetrics } from './metrics.js'
import { isLoopbackHost, type RelayOptions } from './options.js'
import { type DocHost, RelayDoc } from './RelayDoc.js'
import { ReloadBarrier } from './ReloadBarrier.js'

/**
 * Slowloris bounds: a connection must finish its request headers (an upgrade included) within
 * 10 s and a whole HTTP request within 30 s; checked every 2 s rather than Node's 30 s.
 */
const HTTP_TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000 }

/** Reads a PEM file named by a TLS option; an unreadable file is a usage error naming the option. */
function readTlsFile(option: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unreadable'
    throw new RhizomeError(ErrorCode.USAGE, `${option} ${file}: cannot read (${code})`, { cause })
  }
}

/**
 * A relay: one HTTP + WebSocket server holding a full replica of every document it has seen,
 * durable before it acknowledges, replicating with its peers through the {@link Mesh}.
 */
export class Relay implements DocHost {
  readonly metrics = new RelayMetrics()
  readonly log: Logger
  readonly docs = new Map<string, RelayDoc>()
  readonly connections = new Set<ClientConnection>()
  readonly #connectionsPerIp = new Map<string, number>()
  readonly #verifier: TokenVerifier | null
  readonly #reloads = new ReloadBarrier()
  #server: Server | null = null
  #wss: WebSocketServer | null = null
  #pingTimer: ReturnType<typeof setInterval> | null = null
  #closing = false
  store!: DocStore
  mesh!: Mesh
  id = ''
  port = 0

  constructor(
    readonly options: RelayOptions,
    log?: Logger,
  ) {
    this.log = log ?? createLogger(options.logLevel)
    this.#verifier = options.authSecret ? new TokenVerifier(options.authSecret) : null
  }

  get idleMs(): number {
    return this.options.idleMs
  }

  get maxBufferedBytes(): number {
    return this.options.maxBufferedBytes
  }

  get maxPendingBytes(): number {
    return Math.max(this.options.maxMessageBytes * 2, 1024 * 1024)
  }

  /** Held updates (waiting for missing structs) per document: one maximal message. */
  get maxPendingUpdateBytes(): number {
    return this.options.maxMessageBytes
  }

  get authRequired(): boolean {
    return this.#verifier !== null
  }

  /** Verifies a client or admin token; only valid when the relay has an auth secret. */
  verifyToken(token: string | null | undefined) {
    if (!this.#verifier) throw new TypeError('the relay has no auth secret')
    return this.#verifier.verify(token)
  }

  /** Opens the store, starts listening and dials the peers. Resolves once listening. */
  async start(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true })
    const { db, repaired } = await this.#openDatabase()
    this.store = await DocStore.open(db, {
      onCommit: ({ ms }) => this.metrics.commitSeconds.observe(ms / 1000),
      onError: (err) => this.log.warn({ err }, 'background store work failed'),
      // After a LevelDB-level repair, records may be gone without a checksum failing: recompute
      // every digest so anti-entropy re-fetches whatever was lost.
      distrustDigests: repaired,
    })
    this.id = this.options.id ?? `relay-${this.store.id.slice(0, 8)}`
    this.mesh = new Mesh(this)

    const tls = this.options.tlsCert
      ? {
          cert: readTlsFile('--tls-cert', this.options.tlsCert),
          key: readTlsFile('--tls-key', this.options.tlsKey!),
        }
      : null
    let server: Server
    try {
      server = tls ? createHttpsServer({ ...tls, ...HTTP_TIMEOUTS }) : createHttpServer(HTTP_TIMEOUTS)
    } catch (cause) {
      throw new RhizomeError(ErrorCode.USAGE, '--tls-cert/--tls-key: not a valid PEM certificate and key', {
        cause,
      })
    }
    this.#server = server
    // Frames over the limit are refused by ws while still reading the header; ws closes such a
    // socket with 1009, which PROTOCOL.md names 4413 (see #accept).
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxMessageBytes })
    server.on('request', (req, res) => {
      handleHttp(this, req, res).catch((err) => {
        this.log.error({ err }, 'http handler failed')
        if (!res.headersSent) res.writeHead(500).end()
      })
    })
    server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const address = server.address()
    this.port = typeof address === 'object' && address ? address.port : this.options.port
    this.metrics.docsStored.set(this.store.docCount)
    this.#pingTimer = setInterval(() => this.#ping(), 30_000)
    this.#pingTimer.unref()
    this.mesh.start()
  }

  /**
   * Opens the LevelDB directory. A database LevelDB itself reports as damaged (a torn or truncated
   * table, a broken manifest) is repaired with LevelDB's own repair, which keeps every readable
   * record; what was lost comes back from the peers through anti-entropy.
   */
  async #openDatabase(): Promise<{ db: ClassicLevel<string, Uint8Array>; repaired: boolean }> {
    const dir = this.options.dataDir
    const open = async () => {
      const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
      await db.open()
      try {
        // LevelDB reports a damaged table only when it is read: read everything once, without
        // filling the block cache, so damage is found and repaired before anything is served.
        for await (const _ of db.iterator({
          keyEncoding: 'buffer',
          valueEncoding: 'buffer',
          fillCache: false,
        })) {
        }
      } catch (err) {
        await db.close().catch(() => {})
        throw err
      }
      return db
    }
    const codeOf = (err: unknown) =>
      (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code
    try {
      return { db: await open(), repaired: false }
    } catch (err) {
      const code = codeOf(err)
      if (code === 'LEVEL_LOCKED') {
        throw new RhizomeError(ErrorCode.USAGE, `--data ${dir} is in use by another relay`)
      }
      if (code !== 'LEVEL_CORRUPTION' && code !== 'LEVEL_IO_ERROR') throw err
      this.log.warn({ dir, err: (err as Error).cause ?? err }, 'database is damaged (corrupt); repairing it')
      await ClassicLevel.repair(dir)
      const db = await open()
      this.log.warn({ dir }, 'database repaired; lost records will be refetched from peers')
      return { db, repaired: true }
    }
  }

  /** `ws://host:port` this relay listens on. */
  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host
    return `${this.options.tlsCert ? 'wss' : 'ws'}://${host}:${this.port}`
  }

  #ping(): void {
    for (const ws of this.#wss?.clients ?? []) {
      const alive = ws as WebSocket & { rhizomeAlive?: boolean }
      if (alive.rhizomeAlive === false) {
        ws.terminate()
        continue
      }
      alive.rhizomeAlive = false
      ws.ping()
    }
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n')
      return
    }
    // The raw request target, not `new URL(...).pathname`: WHATWG URL parsing resolves `..`,
    // `%2e%2e` and backslashes, which would turn `a/%2e%2e/b` into the valid name `b` instead of
    // the HTTP 400 that PROTOCOL.md section 2 requires.
    const target = req.url ?? '/'
    const q = target.indexOf('?')
    const path = q >= 0 ? target.slice(0, q) : target
    const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '')
    if (path === '/_mesh') {
      // Without a mesh secret the handshake proves nothing; a peer reads and writes every
      // document, so on a relay with client tokens (or reachable beyond loopback) the mesh would
      // bypass them.
      if (
        this.options.meshSecret === undefined &&
        (this.authRequired || !isLoopbackHost(this.options.host))
      ) {
        socket.end(
          'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nthis relay has no --mesh-secret\n',
        )
        this.log.warn('refused a mesh connection: this relay has no --mesh-secret')
        return
      }
      // Mesh sockets count too: before its handshake a /_mesh socket is anyone's.
      if (!this.#admitIp(req, socket)) return
      this.mesh.handleUpgrade(req, socket, head)
      return
    }
    let name: string
    try {
      if (!path.startsWith('/')) throw new RhizomeError(ErrorCode.DOC_NAME_INVALID, 'invalid request target')
      name = parseDocName(path.slice(1))
    } catch (err) {
      const reason = err instanceof Error ? err.message : 'invalid document name'
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`,
      )
      this.log.debug({ url: redactUrl(req.url ?? '') }, 'refused upgrade: bad document name')
      return
    }
    if (!this.#admitIp(req, socket)) return
    this.#wss!.handleUpgrade(req, socket, head, (ws) => {
      this.#accept(ws, name, query).catch((err) => {
        this.log.error({ err, doc: name }, 'failed to accept a socket')
        ws.close(CloseCode.TRANSIENT, 'relay error')
      })
    })
  }

  /**
   * Counts an upgrading socket against `--max-connections-per-ip` until it closes; answers 429
   * and returns false when the address is at its limit.
   */
  #admitIp(req: IncomingMessage, socket: Duplex): boolean {
    const ip = req.socket.remoteAddress ?? 'unknown'
    const count = this.#connectionsPerIp.get(ip) ?? 0
    if (count >= this.options.maxConnectionsPerIp) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n\r\n')
      return false
    }
    this.#connectionsPerIp.set(ip, count + 1)
    socket.once('close', () => {
      const c = (this.#connectionsPerIp.get(ip) ?? 1) - 1
      if (c <= 0) this.#connectionsPerIp.delete(ip)
      else this.#connectionsPerIp.set(ip, c)
    })
    return true
  }

  async #accept(ws: WebSocket, name: string, query: URLSearchParams): Promise<void> {
    const alive = ws as WebSocket & { rhizomeAlive?: boolean }
    alive.rhizomeAlive = true
    ws.on('pong', () => {
      alive.rhizomeAlive = true
    })
    // ws reports an oversized frame as 1009; the contract says 4413.
    const close = ws.close.bind(ws)
    ws.close = ((code?: number, reason?: string | Buffer) =>
      close(code === 1009 ? CloseCode.TOO_LARGE : code, reason)) as typeof ws.close
    ws.on('error', () => {})
    // Frames that arrive while the token is checked are buffered by ws until a listener exists.
    const early: Buffer[] = []
    const buffer = (data: Buffer) => early.push(data)
    ws.on('message', buffer)

    let access: TokenAccess = 'admin'
    let sub: string | undefined
    let exp: number | undefined
    if (this.#verifier) {
      try {
        const claims = await this.#verifier.verify(query.get('token'))
        sub = claims.sub
        if (!grantsDoc(claims, name)) throw new RhizomeError(ErrorCode.AUTH_FORBIDDEN, 'document not granted')
        access = claims.access
        exp = claims.exp
      } catch (err) {
        const code = closeCodeFor(err)
        const reason = err instanceof Error ? err.message : 'unauthorized'
        this.log.info({ doc: name, code, reason, sub }, 'refused socket')
        this.metrics.closes.inc({ code: String(code) })
        try {
          ws.send(encodeAuthDenied(reason))
        } catch {}
        ws.close(code, reason)
        return
      }
    }
    if (ws.readyState !== ws.OPEN) return
    const doc = this.#acquire(name)
    ws.off('message', buffer)
    const conn = new ClientConnection(
      ws,
      doc,
      access,
      query.get('rhizome') === '1',
      this,
      { rateMessages: this.options.rateMessages, rateBytes: this.options.rateBytes },
      sub,
    )
    if (exp !== undefined) conn.expireAt(exp)
    this.connections.add(conn)
    this.metrics.connections.inc()
    doc.attach(conn)
    for (const data of early) ws.emit('message', data, true)
    try {
      await doc.ready
    } catch (err) {
      this.#onLoadFailure(doc, err)
      conn.close(CloseCode.TRANSIENT, 'document is being repaired')
      return
    }
    conn.start()
  }

  #onLoadFailure(doc: RelayDoc, err: unknown): void {
    if (isRhizomeError(err, ErrorCode.STORE_CORRUPT)) {
      this.metrics.corruptDocs.inc()
      this.log.warn({ doc: doc.name }, 'document has corrupt records; repairing from peers')
      this.mesh.requestRepair(doc.name)
    } else {
      this.log.error({ err, doc: doc.name }, 'failed to load document')
    }
    this.#drop(doc)
  }

  /** The in-memory document, loading it if needed. */
  #acquire(name: string): RelayDoc {
    let doc = this.docs.get(name)
    if (!doc) {
      doc = new RelayDoc(name, this)
      this.docs.set(name, doc)
      this.metrics.docsActive.set(this.docs.size)
    }
    return doc
  }

  /**
   * Runs `fn` with the document loaded and kept in memory (peer replication, admin reads).
   * @throws RhizomeError STORE_CORRUPT when the stored document is damaged.
   */
  async withDoc<T>(name: string, fn: (doc: RelayDoc) => Promise<T> | T): Promise<T> {
    const doc = this.#acquire(name)
    return doc.hold(async () => {
      try {
        await doc.ready
      } catch (err) {
        this.#onLoadFailure(doc, err)
        throw err
      }
      return fn(doc)
    })
  }

  onDocUpdate(doc: RelayDoc, update: Uint8Array, origin: unknown): void {
    // rhizome_docs_stored is read from the store when /metrics is scraped, not tracked per update.
    this.mesh.forward(doc.name, update, origin)
  }

  onPersistFailure(doc: RelayDoc, err: unknown): void {
    if (this.#closing && isRhizomeError(err, ErrorCode.STORE_CLOSED)) return
    this.log.error({ err, doc: doc.name }, 'persisting an update failed; dropping the in-memory copy')
    for (const client of doc.clients) client.close(CloseCode.TRANSIENT, 'storage failure')
    this.#drop(doc)
  }

  onDocBroken(doc: RelayDoc, culprit: unknown): void {
    this.log.warn({ doc: doc.name }, 'Yjs failed applying an update; reloading the document from the store')
    // The next load reads the store only after what this copy already handed to it is committed.
    this.#reloads.add(doc.name, doc.whenCommitted())
    // The culprit is closed with the error (4400); the others resync with the reloaded copy.
    for (const client of [...doc.clients]) {
      if (client !== culprit) client.close(CloseCode.TRANSIENT, 'document reloaded')
    }
    this.#drop(doc)
  }

  loadAfter(name: string): Promise<void> | undefined {
    return this.#reloads.wait(name)
  }

  onIdle(doc: RelayDoc): void {
    doc.whenCommitted().then(
      () => {
        if (!doc.idle || this.docs.get(doc.name) !== doc) return
        // The store now holds exactly this state: hand it the digest so that catalogs and
        // anti-entropy never have to load the document again to learn it.
        this.store
          .noteDigest(doc.name, digestOfDoc(doc.ydoc), Y.encodeStateVector(doc.ydoc))
          .catch((err) => this.log.debug({ err, doc: doc.name }, 'could not cache a digest'))
        this.#drop(doc)
      },
      () => {},
    )
  }

  #drop(doc: RelayDoc): void {
    if (this.docs.get(doc.name) === doc) this.docs.delete(doc.name)
    if (!doc.closed) doc.destroy()
    this.metrics.docsActive.set(this.docs.size)
  }

  onConnectionClosed(conn: ClientConnection): void {
    if (!this.connections.delete(conn)) return
    this.metrics.connections.dec()
    conn.doc.detach(conn)
  }

  /** Resolves once everything applied so far to any loaded document is durable in the store. */
  async whenAllCommitted(): Promise<void> {
    await Promise.allSettled([...this.docs.values()].map((d) => d.whenCommitted()))
  }

  ackTargets(): Map<AckSource, number> {
    return this.mesh.ackTargets()
  }

  /** Peer acknowledgements arrived: connections waiting for copies re-evaluate. */
  onPeerAck(): void {
    for (const conn of this.connections) if (conn.hasPendingAcks) conn.reevaluateAcks()
  }

  /**
   * Graceful stop: refuse new sockets, flush every pending write (ACKing it), close every socket
   * with 1001, close the store.
   */
  async stop(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    if (this.#pingTimer) clearInterval(this.#pingTimer)
    this.mesh?.stop()
    const server = this.#server
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve()
    // Flush first so that every write received so far is ACKed before its socket closes; then
    // close with 1001 (frames are ignored from then on) and flush what arrived meanwhile.
    const flush = () => Promise.allSettled([...this.docs.values()].map((d) => d.whenCommitted()))
    await flush()
    for (const conn of [...this.connections]) conn.close(CloseCode.GOING_AWAY, 'relay shutting down')
    for (const ws of this.#wss?.clients ?? []) ws.close(CloseCode.GOING_AWAY, 'relay shutting down')
    await flush()
    if (this.store) await this.store.close()
    // Sockets that do not answer the close handshake are cut.
    const cut = setTimeout(() => {
      for (const ws of this.#wss?.clients ?? []) ws.terminate()
      server?.closeAllConnections?.()
    }, 1000)
    cut.unref()
    await closed
    clearTimeout(cut)
    for (const doc of this.docs.values()) doc.destroy()
    this.docs.clear()
  }
}
