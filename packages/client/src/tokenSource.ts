import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * The `token` option of `openReplica`: a JWT, or a function (sync or async) that returns one. A
 * function is called at every (re)connect to a relay, so an app can hand out short-lived tokens.
 */
export type TokenOption = string | (() => string | undefined | Promise<string | undefined>)

/** Where a relay session gets its token from (see {@link tokenSource}). */
export interface TokenSource {
  /**
   * The token for the next connection, or `undefined` for none.
   * @throws RhizomeError AUTH_INVALID when the token function throws or returns a non-string.
   */
  get(): Promise<string | undefined>
  /**
   * True when {@link TokenSource.get} may return a different token next time (a function): after a
   * 4401 the session asks again before it gives up (docs/PROTOCOL.md section 7.1).
   */
  readonly refreshable: boolean
}

/**
 * Normalises the `token` option.
 * @throws TypeError when `token` is neither undefined, a string nor a function.
 */
export function tokenSource(token: TokenOption | undefined): TokenSource {
  if (token === undefined || typeof token === 'string') {
    return { get: () => Promise.resolve(token), refreshable: false }
  }
  if (typeof token !== 'function') throw new TypeError('openReplica: token must be a string or a function')
  return {
    refreshable: true,
    async get() {
      let value: unknown
      try {
        value = await token()
      } catch (cause) {
        throw new RhizomeError(ErrorCode.AUTH_INVALID, 'the token function failed', { cause })
      }
      if (value !== undefined && typeof value !== 'string') {
        throw new RhizomeError(
          ErrorCode.AUTH_INVALID,
          `the token function returned ${typeof value}, not a string`,
        )
      }
      return value
    },
  }
}
