import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { decodeChecked, encodeChecked } from './checksum.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { localKey } from './keys.js'
import type { Lifecycle } from './Lifecycle.js'
import { type AnyLevel, RAW } from './records.js'

/**
 * The store owner's local state (for example a device's checkpoint with a relay): checksummed
 * values under their own key range, written through the group commit, never listed, replicated or
 * compacted like documents. `DocStore.getLocal` and `putLocal` delegate here.
 */
export class LocalState {
  readonly #db: AnyLevel
  readonly #commit: GroupCommit
  readonly #life: Lifecycle

  constructor(db: AnyLevel, commit: GroupCommit, life: Lifecycle) {
    this.#db = db
    this.#commit = commit
    this.#life = life
  }

  /**
   * The value under `key`, or `null`.
   * @throws RhizomeError STORE_CLOSED after the store closed; STORE_CORRUPT when the stored value
   *   fails its checksum.
   */
  async get(key: string): Promise<Uint8Array | null> {
    this.#life.assertOpen()
    const k = localKey(key)
    const raw = await this.#db.get<string, Uint8Array>(k, RAW)
    if (raw === undefined) return null
    const payload = decodeChecked(k, raw)
    if (payload === null)
      throw new RhizomeError(ErrorCode.STORE_CORRUPT, `local state ${key} failed its checksum`)
    return new Uint8Array(payload)
  }

  /**
   * Stores `value` under `key`; resolves once durable, no earlier than every append issued before.
   * @throws RhizomeError STORE_CLOSED (synchronously) after the store closed.
   */
  put(key: string, value: Uint8Array): Promise<void> {
    this.#life.assertOpen()
    const k = localKey(key)
    const record = encodeChecked(k, value)
    return this.#commit.enqueue({ name: null, run: (batch) => batch.put(k, record) })
  }
}
