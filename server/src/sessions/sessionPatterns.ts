import { compileDocPattern, ErrorCode, RhizomeError } from '@rhizome/protocol'

/** Longest pattern a device may send, in characters (a document name is at most 255 bytes). */
export const MAX_PATTERN_LENGTH = 1024
/** Patterns one session may hold in total (`hello` plus every `replicate`). */
export const MAX_SESSION_PATTERNS = 256

/** The characters of document names (docs/PROTOCOL.md section 2) plus the wildcard `*`. */
const patternAlphabet = /^[A-Za-z0-9\-_.~:@/*]+$/

/**
 * Checks the patterns of a `hello` or `replicate` (token syntax, docs/PROTOCOL.md section 5): each
 * is 1-1024 characters of the document-name alphabet plus `*` and does not start with `/`.
 * @throws RhizomeError PROTOCOL_MALFORMED naming the first invalid pattern.
 */
export function checkPatterns(patterns: readonly string[]): void {
  for (const p of patterns) {
    if (p.length === 0 || p.length > MAX_PATTERN_LENGTH || !patternAlphabet.test(p) || p.startsWith('/')) {
      throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `invalid pattern '${p.slice(0, 64)}'`)
    }
  }
}

/** The literal start of a pattern: everything before its first `*` (the whole pattern without one). */
export function literalPrefix(pattern: string): string {
  const star = pattern.indexOf('*')
  return star < 0 ? pattern : pattern.slice(0, star)
}

/**
 * The literal prefixes of `patterns`, without any that another one already covers (`notes/` covers
 * `notes/2024/`), so that scanning the catalog once per prefix reads no document twice. Sorted.
 */
export function coveringPrefixes(patterns: readonly string[]): string[] {
  const sorted = [...new Set(patterns.map(literalPrefix))].sort()
  const out: string[] = []
  for (const prefix of sorted) {
    const last = out.at(-1)
    if (last !== undefined && prefix.startsWith(last)) continue
    out.push(prefix)
  }
  return out
}

/** A matcher that is true when any of `patterns` matches the whole name (never backtracking). */
export function anyPattern(patterns: readonly string[]): (name: string) => boolean {
  const matchers = patterns.map(compileDocPattern)
  return (name) => matchers.some((m) => m(name))
}
