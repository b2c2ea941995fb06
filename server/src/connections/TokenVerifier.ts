import { ErrorCode, RhizomeError, type TokenAccess, type TokenClaims } from '@rhizome/protocol'

/**
 * jose, loaded on the first token verified: a relay without an auth secret never needs it, and
 * its import is a tenth of a relay's start-up (a refilling relay's start counts).
 */
let jose: Promise<typeof import('jose')> | null = null

const accessLevels = new Set<TokenAccess>(['read', 'write', 'admin'])

/** Verifies client tokens (JWT HS256) against the relay's auth secret. */
export class TokenVerifier {
  readonly #key: Uint8Array

  constructor(secret: string) {
    this.#key = new TextEncoder().encode(secret)
  }

  /**
   * Returns the token's claims.
   * @throws RhizomeError AUTH_INVALID when the token is missing, malformed, badly signed, expired or
   * lacks `docs`/`access`. The message never contains the token.
   */
  async verify(token: string | null | undefined): Promise<TokenClaims> {
    if (!token) throw new RhizomeError(ErrorCode.AUTH_INVALID, 'missing token')
    jose ??= import('jose')
    const { errors, jwtVerify } = await jose
    let payload: Record<string, unknown>
    try {
      ;({ payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'] }))
    } catch (err) {
      const reason = err instanceof errors.JWTExpired ? 'token expired' : 'invalid token'
      throw new RhizomeError(ErrorCode.AUTH_INVALID, reason)
    }
    const { docs, access, sub, exp } = payload
    if (!Array.isArray(docs) || !docs.every((d) => typeof d === 'string')) {
      throw new RhizomeError(ErrorCode.AUTH_INVALID, 'token lacks a docs claim')
    }
    if (typeof access !== 'string' || !accessLevels.has(access as TokenAccess)) {
      throw new RhizomeError(ErrorCode.AUTH_INVALID, 'token lacks a valid access claim')
    }
    const claims: TokenClaims = { docs, access: access as TokenAccess }
    if (typeof sub === 'string') claims.sub = sub
    if (typeof exp === 'number') claims.exp = exp
    return claims
  }
}
