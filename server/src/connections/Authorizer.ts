import type { IncomingMessage } from 'node:http'
import { accessAllows, ErrorCode, grantsDoc, RhizomeError, type TokenAccess } from '@rhizome/protocol'
import type { Logger } from '../logger.js'
import { TokenVerifier } from './TokenVerifier.js'

/** What a socket or HTTP request was granted: its access level, and the token's subject and expiry. */
export interface Grant {
  access: TokenAccess
  sub?: string
  /** Seconds since the epoch; a socket is closed with 4401 then. */
  exp?: number
  /**
   * The token's document patterns (docs/PROTOCOL.md section 5), when it has any: a device session
   * replicates only what they grant. Absent: every document (anonymous, or an `authenticate` hook
   * that decided for the session as a whole).
   */
  docs?: readonly string[]
}

/** One request for access, as every path of the relay asks it (and as an `authenticate` hook sees it). */
export interface AuthenticateRequest {
  /**
   * The token the caller presented: `?token=` of a document socket, `Authorization: Bearer` of an
   * HTTP request; `null` when there is none.
   */
  token: string | null
  /**
   * The document asked for (its decoded name, docs/PROTOCOL.md section 2), or `null` for the
   * relay-wide admin endpoints `/docs` and `/metrics`, which need `'admin'`.
   */
  doc: string | null
  /** The HTTP request: the upgrade request of a socket, or the request of the HTTP API. */
  request: IncomingMessage
}

/**
 * The `authenticate` hook of `startRelay` (docs/PROTOCOL.md section 10): returns or resolves the
 * access level granted for `doc`, or throws an error whose `code` is `AUTH_INVALID` (4401, HTTP
 * 401) or `AUTH_FORBIDDEN` (4403, HTTP 403). Anything else thrown counts as `AUTH_INVALID`.
 */
export type AuthenticateHook = (request: AuthenticateRequest) => TokenAccess | Promise<TokenAccess>

/**
 * The one place that decides who may do what with a document. Document sockets, the HTTP document
 * API, the admin endpoints and device sessions all ask it, once per document, before they read or
 * apply anything of it.
 */
export interface Authorizer {
  /** False when every caller is anonymous and granted `'admin'` (no auth secret and no hook). */
  readonly required: boolean
  /**
   * True when the grant depends on the document in a way only a call per document tells (an
   * `authenticate` hook); false when a grant's patterns say it for every document (JWTs).
   */
  readonly perDocument: boolean
  /**
   * Grants at least `need` on `request.doc`, or throws.
   * @throws RhizomeError AUTH_INVALID for a missing, invalid or expired token (or a hook that
   *   refused it, or failed); AUTH_FORBIDDEN when the document or the access level is not granted.
   */
  authorize(request: AuthenticateRequest, need: TokenAccess): Promise<Grant>
}

const accessLevels = new Set<unknown>(['read', 'write', 'admin'])

function forbidden(need: TokenAccess, doc: string | null): RhizomeError {
  return new RhizomeError(
    ErrorCode.AUTH_FORBIDDEN,
    doc === null || need === 'admin' ? `${need} access required` : `${need} access to this document required`,
  )
}

/** No auth secret and no hook: anonymous callers (a loopback relay, or `--insecure-no-auth`). */
class AnonymousAuthorizer implements Authorizer {
  readonly required = false
  readonly perDocument = false

  async authorize(): Promise<Grant> {
    return { access: 'admin' }
  }
}

/** JWT HS256 tokens under `--auth-secret` (docs/PROTOCOL.md section 5). */
class TokenAuthorizer implements Authorizer {
  readonly required = true
  readonly perDocument = false
  readonly #verifier: TokenVerifier

  constructor(secret: string) {
    this.#verifier = new TokenVerifier(secret)
  }

  async authorize({ token, doc }: AuthenticateRequest, need: TokenAccess): Promise<Grant> {
    const claims = await this.#verifier.verify(token)
    if (doc !== null && !grantsDoc(claims, doc))
      throw new RhizomeError(ErrorCode.AUTH_FORBIDDEN, 'document not granted')
    if (!accessAllows(claims.access, need)) throw forbidden(need, doc)
    const grant: Grant = { access: claims.access, docs: claims.docs }
    if (claims.sub !== undefined) grant.sub = claims.sub
    if (claims.exp !== undefined) grant.exp = claims.exp
    return grant
  }
}

/** The embedding app's `authenticate` hook, in place of JWT checks. */
class HookAuthorizer implements Authorizer {
  readonly required = true
  readonly perDocument = true

  constructor(
    private readonly hook: AuthenticateHook,
    private readonly log: Logger,
  ) {}

  async authorize(request: AuthenticateRequest, need: TokenAccess): Promise<Grant> {
    let access: unknown
    try {
      access = await this.hook(request)
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code
      const message = err instanceof Error && err.message ? err.message : undefined
      if (code === ErrorCode.AUTH_FORBIDDEN || code === ErrorCode.AUTH_INVALID) {
        throw new RhizomeError(
          code,
          message ?? (code === ErrorCode.AUTH_FORBIDDEN ? 'forbidden' : 'unauthorized'),
        )
      }
      // A hook that failed for another reason (its database is down, a bug) refuses this caller
      // only; its message may describe the app's internals, so the caller gets a generic one.
      this.log.warn({ err, doc: request.doc }, 'authenticate hook failed; refusing as AUTH_INVALID')
      throw new RhizomeError(ErrorCode.AUTH_INVALID, 'authentication failed', { cause: err })
    }
    if (!accessLevels.has(access)) {
      this.log.warn(
        { doc: request.doc, returned: String(access) },
        'authenticate hook returned no access level',
      )
      throw new RhizomeError(ErrorCode.AUTH_INVALID, 'authentication failed')
    }
    if (!accessAllows(access as TokenAccess, need)) throw forbidden(need, request.doc)
    return { access: access as TokenAccess }
  }
}

/**
 * The relay's authorizer: the `authenticate` hook when one is given (it replaces JWT checks),
 * else tokens under `authSecret`, else anonymous access for everyone.
 */
export function createAuthorizer(
  options: { authSecret?: string; authenticate?: AuthenticateHook },
  log: Logger,
): Authorizer {
  if (options.authenticate) return new HookAuthorizer(options.authenticate, log)
  if (options.authSecret) return new TokenAuthorizer(options.authSecret)
  return new AnonymousAuthorizer()
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(request: IncomingMessage): string | null {
  const header = request.headers.authorization ?? ''
  return /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? null
}
