import { ErrorCode, RhizomeError } from './errors.js'

/** Longest document name, in UTF-8 bytes after percent-decoding. */
export const MAX_DOC_NAME_BYTES = 255

const allowed = /^[A-Za-z0-9\-_.~:@/]+$/
/** An empty, `.` or `..` segment anywhere (tested first: names are checked on every mesh message). */
const badSegment = /(?:^|\/)\.{0,2}(?:\/|$)/

/**
 * Checks a decoded document name against docs/PROTOCOL.md section 2: 1-255 bytes of
 * `A-Z a-z 0-9 - _ . ~ : @ /`, not starting with `/`, `_` or `.`, and no empty, `.` or `..` segment.
 * Returns the reason it is refused, or `null` when it is valid.
 */
export function docNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty name'
  // The allowed alphabet is ASCII, so bytes = characters once the alphabet check passed.
  if (!allowed.test(name)) return 'characters outside A-Z a-z 0-9 - _ . ~ : @ /'
  if (name.length > MAX_DOC_NAME_BYTES) return `longer than ${MAX_DOC_NAME_BYTES} bytes`
  const first = name[0]
  if (first === '/' || first === '_' || first === '.') return `starts with '${first}'`
  if (!badSegment.test(name)) return null
  for (const segment of name.split('/')) {
    if (segment === '') return 'empty segment'
    if (segment === '.' || segment === '..') return `'${segment}' segment`
  }
  return null
}

/** True when `name` (already decoded) is a valid document name. */
export function isValidDocName(name: string): boolean {
  return docNameProblem(name) === null
}

/**
 * Percent-decodes the path part of a socket URL (without the leading `/`) and validates it.
 * @throws RhizomeError DOC_NAME_INVALID on bad escapes or a name that breaks the rules.
 */
export function parseDocName(encoded: string): string {
  let name: string
  try {
    name = decodeURIComponent(encoded)
  } catch (cause) {
    throw new RhizomeError(ErrorCode.DOC_NAME_INVALID, 'invalid percent-encoding in document name', { cause })
  }
  const problem = docNameProblem(name)
  if (problem !== null)
    throw new RhizomeError(ErrorCode.DOC_NAME_INVALID, `invalid document name: ${problem}`)
  return name
}

/** Encodes a valid document name for a URL path; `/` stays readable. */
export function encodeDocName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/')
}
