import { SignJWT } from 'jose'

export interface TokenSpec {
  docs?: unknown
  access?: unknown
  sub?: string
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number
}

/** Signs a client token (JWT HS256) with `secret`. */
export async function signToken(secret: string, spec: TokenSpec): Promise<string> {
  const claims: Record<string, unknown> = {}
  if (spec.docs !== undefined) claims.docs = spec.docs
  if (spec.access !== undefined) claims.access = spec.access
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt()
  if (spec.sub !== undefined) jwt = jwt.setSubject(spec.sub)
  if (spec.expiresIn !== undefined)
    jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + spec.expiresIn)
  return jwt.sign(new TextEncoder().encode(secret))
}

/** An unsigned token (`alg: none`) claiming admin on everything. */
export function unsignedToken(): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ docs: ['**'], access: 'admin' })}.`
}
