/** Access levels of PROTOCOL.md section 5; each implies the ones before it. */
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

/** One step of a compiled pattern: a literal character, `*` (no `/`) or `**` (anything). */
type PatternStep = string | typeof STAR | typeof GLOBSTAR
const STAR = 0
const GLOBSTAR = 1

/**
 * Compiles a pattern (section 5 syntax, the same meaning as {@link docPatternMatches}) into a
 * matcher that runs in O(name length × pattern length) and never backtracks. For patterns that
 * do not come from the token issuer (a device's replication patterns): a backtracking regular
 * expression takes seconds on a pattern like `*a*a*a*a` against a 255-character name.
 */
export function compileDocPattern(pattern: string): (name: string) => boolean {
  const steps: PatternStep[] = []
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '*') steps.push(pattern[i]!)
    else if (pattern[i + 1] === '*') {
      steps.push(GLOBSTAR)
      i++
    } else steps.push(STAR)
  }
  const k = steps.length
  return (name: string) => {
    // The set of pattern positions reachable after each character (an NFA simulation).
    let current = new Uint8Array(k + 1)
    let next = new Uint8Array(k + 1)
    const close = (set: Uint8Array) => {
      for (let s = 0; s < k; s++) if (set[s] && typeof steps[s] !== 'string') set[s + 1] = 1
    }
    current[0] = 1
    close(current)
    for (let i = 0; i < name.length; i++) {
      const c = name[i]!
      next.fill(0)
      let any = false
      for (let s = 0; s < k; s++) {
        if (!current[s]) continue
        const step = steps[s]!
        if (step === GLOBSTAR || (step === STAR && c !== '/')) next[s] = 1
        else if (step === c) next[s + 1] = 1
        else continue
        any = true
      }
      if (!any) return false
      close(next)
      ;[current, next] = [next, current]
    }
    return current[k] === 1
  }
}
