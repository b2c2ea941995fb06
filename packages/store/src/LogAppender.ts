import { encodeChecked } from './checksum.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { checkReceiveTime, timedLogKey } from './history/receiveTime.js'
import { checkDocName } from './keys.js'
import { newSession } from './storeId.js'
import { validateUpdate } from './yjsMerge.js'

/** Options of `DocStore.append`. */
export interface AppendOptions {
  /**
   * The update was produced or fully decoded by Yjs already (for example the `update` event of a
   * Y.Doc that applied it): skip decoding it once more to validate it.
   */
  decoded?: boolean
  /** Receive time to record (ms since the epoch, a non-negative integer). Default: the store's clock now. */
  at?: number
}

/**
 * Turns appended updates into log records: each gets a key that is unique to this open of the
 * store (a session prefix and a counter) and carries its receive time, and a checksum; the record
 * goes into the group commit. `DocStore.append` delegates here.
 */
export class LogAppender {
  /** Prefix of this open's log keys (see `newSession`). */
  readonly #session = newSession()
  #counter = 0
  readonly #commit: GroupCommit
  readonly #clock: () => number

  constructor(commit: GroupCommit, clock: () => number) {
    this.#commit = commit
    this.#clock = clock
  }

  /**
   * Appends `update` to the document's log with its receive time (`options.at`, default the clock
   * now); resolves once the group commit containing it is durable.
   * @throws TypeError for an invalid name or when `options.at` is not a non-negative integer.
   * @throws RhizomeError PROTOCOL_MALFORMED when `update` does not decode (nothing is stored).
   */
  append(name: string, update: Uint8Array, options: AppendOptions): Promise<void> {
    checkDocName(name)
    const at = options.at ?? this.#clock()
    checkReceiveTime(at)
    if (!options.decoded) validateUpdate(update)
    const key = timedLogKey(name, this.#session, this.#counter++, at)
    return this.#commit.append(name, key, encodeChecked(key, update), update.length)
  }
}
