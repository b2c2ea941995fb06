import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { AwarenessEntry } from './awarenessUpdate.js'

/** A socket that controls awareness states: the client ids it introduced on one document. */
export interface AwarenessOwner {
  readonly awarenessIds: Set<number>
}

/**
 * Which socket of one document owns which awareness clientID. A socket owns the ids it introduced
 * (the first to set a state for an id nobody holds) until it closes; only the owner may set or
 * remove that id's state, so no socket, read-only or not, can rewrite or remove another's
 * presence. Ownership ends with the owner's socket, which is when the relay removes its states:
 * a client that reconnects with the same clientID can then claim it again.
 */
export class AwarenessOwners {
  readonly #owners = new Map<number, AwarenessOwner>()

  /** The socket that owns `clientID` on this document, if any. */
  ownerOf(clientID: number): AwarenessOwner | undefined {
    return this.#owners.get(clientID)
  }

  /**
   * Filters an update's entries down to those `owner` may apply, and claims the ids it introduces.
   * Kept: entries for ids `owner` owns. Claimed and kept: a state (not a removal) for an id nobody
   * owns, with a clock y-protocols would accept (above the document's `clocks` entry, or above 0
   * for an id never seen). Dropped: entries for ids another socket owns, removals of unowned ids,
   * and stale states of unowned ids. Stock y-websocket clients echo every state they receive back
   * to the relay, so dropping (not refusing the frame) is what keeps them working; and a stale
   * echo must not claim an id whose owner just closed, or that client could not take it back.
   * @throws RhizomeError RATE_LIMITED (close 4429) when `owner` would own more than `maxIds`
   *   ids; nothing is claimed then.
   */
  admit(
    owner: AwarenessOwner,
    entries: readonly AwarenessEntry[],
    clocks: ReadonlyMap<number, { clock: number }>,
    maxIds: number,
  ): AwarenessEntry[] {
    const claims = new Set<number>()
    const kept: AwarenessEntry[] = []
    for (const entry of entries) {
      const current = this.#owners.get(entry.clientID)
      if (current === owner || claims.has(entry.clientID)) {
        kept.push(entry)
      } else if (
        current === undefined &&
        entry.state !== null &&
        entry.clock > (clocks.get(entry.clientID)?.clock ?? 0)
      ) {
        claims.add(entry.clientID)
        kept.push(entry)
      }
    }
    if (owner.awarenessIds.size + claims.size > maxIds) {
      throw new RhizomeError(ErrorCode.RATE_LIMITED, 'too many awareness states on one socket')
    }
    for (const id of claims) {
      this.#owners.set(id, owner)
      owner.awarenessIds.add(id)
    }
    return kept
  }

  /** Forgets every id `owner` held; call once its states were removed (its socket closed). */
  release(owner: AwarenessOwner): void {
    for (const id of owner.awarenessIds) {
      if (this.#owners.get(id) === owner) this.#owners.delete(id)
    }
    owner.awarenessIds.clear()
  }
}
