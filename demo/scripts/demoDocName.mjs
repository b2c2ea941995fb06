/** The only namespace the control server touches for the page: the demo's notes. */
export const DEMO_NOTES_PREFIX = 'demo/notes/'
/** Document names are at most this many bytes (docs/PROTOCOL.md section 2). */
const MAX_NAME_BYTES = 255
const NAME_CHARS = /^[A-Za-z0-9\-_.~:@/]+$/

/**
 * Checks a document name the page sent: a valid name by docs/PROTOCOL.md section 2 (1-255 bytes of
 * `A-Z a-z 0-9 - _ . ~ : @ /`, not starting with `/`, `_` or `.`, no empty, `.` or `..` segment)
 * inside the demo's namespace `demo/notes/`. Returns the name, or null when it is anything else,
 * so the control server can never be used to reach another document or a relay-private path.
 * @param {unknown} raw
 * @returns {string | null}
 */
export function demoDocName(raw) {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_NAME_BYTES) return null
  // Only ASCII passes NAME_CHARS, so characters and bytes count the same.
  if (!NAME_CHARS.test(raw) || /^[/_.]/.test(raw)) return null
  if (raw.split('/').some((s) => s === '' || s === '.' || s === '..')) return null
  if (!raw.startsWith(DEMO_NOTES_PREFIX) || raw.length === DEMO_NOTES_PREFIX.length) return null
  return raw
}

/**
 * A restore-point time the page sent: milliseconds since the epoch as decimal digits (what
 * `?history=1` lists), or null.
 * @param {unknown} raw
 * @returns {number | null}
 */
export function demoMoment(raw) {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) return null
  const at = Number(raw)
  return Number.isSafeInteger(at) ? at : null
}
