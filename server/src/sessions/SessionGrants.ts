import { grantsDoc, type TokenAccess } from '@rhizome/protocol'
import type { SessionGrant } from '../connections/UpgradeRouter.js'

/**
 * Decides per document what a device session may do. With JWTs (or anonymously) the session's
 * grant says it all: the token's patterns and access level, known at once. With an `authenticate`
 * hook, the hook decides per document (docs/PROTOCOL.md section 10): its answer for a document is
 * asked the first time the session touches it (a frame, a listing, a live update) and kept for the
 * session's life.
 */
export class SessionGrants {
  readonly #decided = new Map<string, TokenAccess | null>()
  readonly #asking = new Map<string, Promise<TokenAccess | null>>()

  /**
   * @param grant - what the session was granted when it connected.
   * @param askHook - per-document check of an `authenticate` hook (resolves to the access granted,
   *   rejects when refused); null when the grant's patterns decide.
   */
  constructor(
    private readonly grant: SessionGrant,
    private readonly askHook: ((doc: string) => Promise<TokenAccess>) | null,
  ) {}

  /** The access the session has on `name` when it is known now (null: none); undefined: ask {@link accessOf}. */
  known(name: string): TokenAccess | null | undefined {
    if (!grantsDoc(this.grant, name)) return null
    if (this.askHook === null) return this.grant.access
    return this.#decided.get(name)
  }

  /** The access the session has on `name` (null: the document is not granted). */
  accessOf(name: string): Promise<TokenAccess | null> {
    const known = this.known(name)
    if (known !== undefined) return Promise.resolve(known)
    let asking = this.#asking.get(name)
    if (asking === undefined) {
      asking = this.askHook!(name).then(
        (access) => access,
        () => null,
      )
      asking.then((access) => {
        this.#decided.set(name, access)
        this.#asking.delete(name)
      })
      this.#asking.set(name, asking)
    }
    return asking
  }
}
