/** Access levels of docs/PROTOCOL.md section 5; each implies the ones before it. */
export type TokenAccess = 'read' | 'write' | 'admin'

/** The claims of a client token (JWT, HS256). */
export interface TokenClaims {
  docs: string[]
  access: TokenAccess
  exp?: number
  sub?: string
}

const patternCache = new Map<string, RegExp>()

function compile(pattern: string): RegExp {
  let re = patternCache.get(pattern)
  if (re) return re
  let source = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*'
        i++
      } else source += '[^/]*'
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }
  re = new RegExp(source + '$')
  if (patternCache.size > 1000) patternCache.clear()
  patternCache.set(pattern, re)
  return re
}

/** True when `pattern` (`*` = any run without `/`, `**` = any run) matches the whole `name`. */
export function docPatternMatches(pattern: string, name: string): boolean {
  return compile(pattern).test(name)
}

/** True when any of the token's patterns grants `name`. */
export function grantsDoc(claims: Pick<TokenClaims, 'docs'>, name: string): boolean {
  return claims.docs.some((p) => docPatternMatches(p, name))
}

const rank: Record<TokenAccess, number> = { read: 0, write: 1, admin: 2 }

/** True when `have` includes `need` (admin > write > read). */
export function accessAllows(have: TokenAccess, need: TokenAccess): boolean {
  return rank[have] >= rank[need]
}
