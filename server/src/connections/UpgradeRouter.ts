import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import {
  CloseCode,
  closeCodeFor,
  ErrorCode,
  encodeSessionMessage,
  parseDocName,
  RhizomeError,
  type TokenAccess,
} from '@rhizome/protocol'
import { type WebSocket, WebSocketServer } from 'ws'
import { type Logger, redactUrl } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import type { Authorizer, Grant } from './Authorizer.js'
import { IpAdmission } from './IpAdmission.js'
import type { Keepalive } from './Keepalive.js'
import { closeOversizeAs4413, refuseSocket, refuseUpgrade } from './refusal.js'

/** What a client socket was granted: its access level, and the token's subject and expiry. */
export type ClientGrant = Grant

/** What a device session was granted: a client grant plus the token's document patterns. */
export interface SessionGrant extends ClientGrant {
  /** The token's `docs` patterns (`['**']` for anonymous admin without `--auth-secret`). */
  docs: string[]
}

/** A `/_session` socket that passed admission and auth, with the frames it sent meanwhile. */
export interface AdmittedSession {
  ws: WebSocket
  grant: SessionGrant
  early: Buffer[]
  /** Remote address (per-IP budgets). */
  ip: string
  /** The token the session presented, if any (budgets of tokens without `sub`). */
  token: string | null
  /**
   * With an `authenticate` hook: asks it about one document for this session (resolves to the
   * access granted, rejects when refused). Null when the grant's patterns decide.
   */
  authorizeDoc: ((doc: string) => Promise<TokenAccess>) | null
}

/** A client socket that passed admission and auth, with the frames it sent meanwhile. */
export interface AdmittedClient {
  ws: WebSocket
  name: string
  grant: ClientGrant
  /** `rhizome=1`: the socket opted in to the extension messages. */
  extensions: boolean
  early: Buffer[]
  /** Remote address (per-IP budgets). */
  ip: string
  /** The token the socket presented, if any (budgets of tokens without `sub`). */
  token: string | null
}

/** What the router needs from the relay. */
export interface UpgradeHost {
  readonly log: Logger
  readonly metrics: RelayMetrics
  /** True once the relay is shutting down: upgrades get 503. */
  readonly closing: boolean
  /** True when the relay may open mesh links at all (it has a mesh secret, or needs none). */
  readonly meshAllowed: boolean
  /** Completes a `/_mesh` upgrade. */
  acceptMesh(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /**
   * Last check before a socket is handed over (budgets): false refuses it with 4429. Frames that
   * arrive meanwhile are kept.
   */
  admitDocument(client: Omit<AdmittedClient, 'ws' | 'early' | 'extensions'>): Promise<boolean>
  /** Takes over an admitted client socket. */
  acceptClient(client: AdmittedClient): void
  /** Takes over an admitted device session (`/_session`). */
  acceptSession(session: AdmittedSession): void
}

/** The keepalive of a document socket: an AWARENESS update with no entries (docs/PROTOCOL.md section 2). */
const EMPTY_AWARENESS_FRAME = new Uint8Array([1, 1, 0])
/** The keepalive of a device session. */
const SESSION_KEEPALIVE_FRAME = encodeSessionMessage({ type: 'keepalive' })

/** Limits the router enforces before any document is touched. */
export interface UpgradeLimits {
  maxMessageBytes: number
  maxConnectionsPerIp: number
}

/**
 * Routes every WebSocket upgrade of the relay: `/_mesh` to the mesh, `/_session` to a device
 * session and `/<docName>` to a client socket, the last two after per-IP admission and token
 * checks (docs/PROTOCOL.md sections 2, 5 and 7.2). Nothing of a document is read before a socket
 * passed all of them.
 */
export class UpgradeRouter {
  readonly #admission: IpAdmission
  /**
   * Frames over the limit are refused by ws while still reading the header (see
   * {@link closeOversizeAs4413}).
   */
  readonly #wss: WebSocketServer

  constructor(
    private readonly host: UpgradeHost,
    private readonly authorizer: Authorizer,
    private readonly keepalive: Keepalive,
    limits: UpgradeLimits,
  ) {
    this.#admission = new IpAdmission(limits.maxConnectionsPerIp)
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes })
  }

  /** Client sockets and device sessions completed by this router and not yet closed. */
  get sockets(): Set<WebSocket> {
    return this.#wss.clients
  }

  /** The `upgrade` listener of the HTTP server. */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.host.closing) return refuseUpgrade(socket, 503)
    // The raw request target, not `new URL(...).pathname`: WHATWG URL parsing resolves `..`,
    // `%2e%2e` and backslashes, which would turn `a/%2e%2e/b` into the valid name `b` instead of
    // the HTTP 400 that docs/PROTOCOL.md section 2 requires.
    const target = req.url ?? '/'
    const q = target.indexOf('?')
    const path = q >= 0 ? target.slice(0, q) : target
    const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '')
    if (path === '/_mesh') {
      if (!this.host.meshAllowed) {
        this.host.log.warn('refused a mesh connection: this relay has no --mesh-secret')
        return refuseUpgrade(socket, 403, 'this relay has no --mesh-secret')
      }
      if (!this.#admission.admit(req, socket)) return refuseUpgrade(socket, 429)
      this.host.acceptMesh(req, socket, head)
      return
    }
    if (path === '/_session') {
      if (!this.#admission.admit(req, socket)) return refuseUpgrade(socket, 429)
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        this.#authorize(ws, null, query, req).catch((err) => {
          this.host.log.error({ err }, 'failed to accept a session')
          ws.close(CloseCode.TRANSIENT, 'relay error')
        })
      })
      return
    }
    let name: string
    try {
      if (!path.startsWith('/')) throw new RhizomeError(ErrorCode.DOC_NAME_INVALID, 'invalid request target')
      name = parseDocName(path.slice(1))
    } catch (err) {
      this.host.log.debug({ url: redactUrl(req.url ?? '') }, 'refused upgrade: bad document name')
      return refuseUpgrade(socket, 400, err instanceof Error ? err.message : 'invalid document name')
    }
    if (!this.#admission.admit(req, socket)) return refuseUpgrade(socket, 429)
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#authorize(ws, name, query, req).catch((err) => {
        this.host.log.error({ err, doc: name }, 'failed to accept a socket')
        ws.close(CloseCode.TRANSIENT, 'relay error')
      })
    })
  }

  /**
   * Checks the token of a document socket (`name`) or a device session (`name` null) through the
   * relay's authorizer, then hands it on. With an `authenticate` hook, a session is authorized once,
   * for every document (`doc: null`); with JWTs, per document against the token's patterns.
   */
  async #authorize(
    ws: WebSocket,
    name: string | null,
    query: URLSearchParams,
    req: IncomingMessage,
  ): Promise<void> {
    const ip = req.socket.remoteAddress ?? 'unknown'
    this.keepalive.watch(ws)
    closeOversizeAs4413(ws)
    ws.on('error', () => {})
    // Frames that arrive while the token is checked are kept until the connection takes over.
    const early: Buffer[] = []
    const buffer = (data: Buffer) => early.push(data)
    ws.on('message', buffer)
    let grant: SessionGrant = { access: 'admin', docs: ['**'] }
    if (this.authorizer.required) {
      try {
        // Writes are checked per message: a read grant opens the socket.
        const granted = await this.authorizer.authorize(
          { token: query.get('token'), doc: name, request: req },
          'read',
        )
        grant = { ...granted, docs: granted.docs ? [...granted.docs] : ['**'] }
      } catch (err) {
        const code = closeCodeFor(err)
        const reason = err instanceof Error ? err.message : 'unauthorized'
        this.host.log.info({ doc: name ?? '/_session', code, reason }, 'refused socket')
        this.host.metrics.closes.inc({ code: String(code) })
        return refuseSocket(ws, code, reason)
      }
    }
    const token = this.authorizer.required ? query.get('token') : null
    // A session is charged per document it creates (SessionDocs); a document socket here.
    if (name !== null && !(await this.host.admitDocument({ name, grant, ip, token }))) {
      this.host.metrics.closes.inc({ code: String(CloseCode.RATE_LIMITED) })
      this.host.log.info({ doc: name, sub: grant.sub }, 'refused socket: too many new documents')
      return refuseSocket(ws, CloseCode.RATE_LIMITED, 'too many new documents')
    }
    if (ws.readyState !== ws.OPEN) return
    ws.off('message', buffer)
    if (name === null) {
      this.keepalive.sendWhenIdle(ws, SESSION_KEEPALIVE_FRAME)
      const authorizeDoc = this.authorizer.perDocument
        ? async (doc: string) =>
            (await this.authorizer.authorize({ token: query.get('token'), doc, request: req }, 'read')).access
        : null
      this.host.acceptSession({ ws, grant, early, ip, token, authorizeDoc })
      return
    }
    this.keepalive.sendWhenIdle(ws, EMPTY_AWARENESS_FRAME)
    this.host.acceptClient({ ws, name, grant, extensions: query.get('rhizome') === '1', early, ip, token })
  }

  /** Closes every client socket with `code` (shutdown). */
  closeAll(code: number, reason: string): void {
    for (const ws of this.#wss.clients) ws.close(code, reason)
  }

  /** Cuts every client socket that did not finish its close handshake. */
  terminateAll(): void {
    for (const ws of this.#wss.clients) ws.terminate()
  }
}
