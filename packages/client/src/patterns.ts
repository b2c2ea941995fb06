import { docPatternMatches } from '@rhizome/protocol'

/** Longest replication pattern, in characters (the relay refuses longer ones with 4400). */
const MAX_PATTERN_LENGTH = 1024
/** Document-name characters (docs/PROTOCOL.md section 2) plus the wildcard `*`. */
const patternAlphabet = /^[A-Za-z0-9\-_.~:@/*]+$/

/**
 * Checks a replication pattern (token syntax, docs/PROTOCOL.md section 5): 1-1024 characters of
 * the document-name alphabet plus `*`, not starting with `/`. These are the patterns a relay
 * accepts in `hello`/`replicate` (docs/PROTOCOL.md section 7.2); checking them here turns a typo
 * into an exception at the call instead of a session closed with 4400.
 * @throws TypeError for any other value.
 */
export function checkPattern(pattern: unknown): asserts pattern is string {
  if (
    typeof pattern !== 'string' ||
    pattern.length === 0 ||
    pattern.length > MAX_PATTERN_LENGTH ||
    !patternAlphabet.test(pattern) ||
    pattern.startsWith('/')
  ) {
    throw new TypeError(`invalid replication pattern: ${JSON.stringify(pattern)}`)
  }
}

/** The literal start of a pattern: everything before its first `*` (the whole pattern without one). */
export function literalPrefix(pattern: string): string {
  const star = pattern.indexOf('*')
  return star < 0 ? pattern : pattern.slice(0, star)
}

/**
 * The literal prefixes of `patterns` without any another one covers (`notes/` covers
 * `notes/2024/`), sorted: scanning the local catalog once per prefix reads no document twice.
 */
export function coveringPrefixes(patterns: readonly string[]): string[] {
  const out: string[] = []
  for (const prefix of [...new Set(patterns.map(literalPrefix))].sort()) {
    const last = out.at(-1)
    if (last === undefined || !prefix.startsWith(last)) out.push(prefix)
  }
  return out
}

/** True when any of `patterns` matches the whole `name`. */
export function matchesAny(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => docPatternMatches(p, name))
}
