import { digestOfDoc, EMPTY_STATE_VECTOR, EMPTY_UPDATE, ErrorCode, isRhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import * as Y from 'yjs'
import { RecentUpdates } from './RecentUpdates.js'
import type { Tombstones } from './Tombstones.js'

/** A document open in memory: its Y.Doc is the current local state (the store follows it). */
export interface OpenDocument {
  readonly doc: Y.Doc
}

/** What {@link LocalDocs.applyRemote} did with an update. */
export type ApplyOutcome =
  /** Applied to the open document's Y.Doc (the handle stores and forwards it). */
  | 'open'
  /** Appended to the local store (no Y.Doc in memory). */
  | 'stored'
  /** The same bytes were applied moments ago (another relay's copy): nothing done. */
  | 'duplicate'
  /** Yjs cannot decode it: dropped. */
  | 'invalid'
  /** The relays deleted the document: dropped (docs/PROTOCOL.md section 9). */
  | 'deleted'

/** Updates applied from the local store carry this origin: they came from disk, not from an edit. */
export const LOCAL_STORE_ORIGIN = Symbol('rhizome-local-store')

/**
 * The local replica as the sessions see it: every document, open (a Y.Doc in memory) or not (only
 * in the store). Updates of documents that are not open go straight into the store, and reads
 * (state vector, diff, digest) of them come from the store, so a device replicating 10,000
 * documents holds none of them in memory. Work on one document runs in order (one queue per
 * document; documents run concurrently), and a read waits for the appends before it, because the
 * store reads what is committed. Opening a document is a task on its queue too, so an update is
 * either in the store before the document is loaded or applied to its Y.Doc afterwards.
 */
export class LocalDocs {
  readonly store: DocStore
  readonly #queues = new Map<string, Promise<void>>()
  readonly #appends = new Map<string, Promise<void>>()
  readonly #open = new Map<string, OpenDocument>()
  readonly #recent = new RecentUpdates()
  /** Names known to be in the store (filled as they are seen), so `docs` events need no lookup. */
  readonly #known = new Set<string>()
  readonly #onArrived: (names: string[]) => void
  /** Documents the relays deleted: nothing of them is stored, read or pushed any more. */
  readonly tombstones: Tombstones
  #arrived: string[] = []
  #arrivedScheduled = false

  /** `onArrived` is called (batched) with documents that newly arrived in the store, once durable. */
  constructor(store: DocStore, onArrived: (names: string[]) => void, tombstones: Tombstones) {
    this.store = store
    this.#onArrived = onArrived
    this.tombstones = tombstones
  }

  /** True when the relays deleted `name` (see {@link Tombstones}). */
  isDeleted(name: string): boolean {
    return this.tombstones.has(name)
  }

  /**
   * Removes the deleted document `name` from the store, after its earlier tasks and appends and
   * after `writesDone` (the open handle's pending appends: the store may not append to a document
   * while it is purged). Resolves once purged; a closing store is not an error here (the tombstone
   * is persisted, the next start purges nothing but filters the name).
   */
  purge(name: string, writesDone: Promise<void>): Promise<void> {
    return this.run(name, async () => {
      await writesDone
      await this.#appends.get(name)
      try {
        await this.store.purgeDocument(name)
      } catch (err) {
        if (!isRhizomeError(err, ErrorCode.STORE_CLOSED)) throw err
      }
      this.#known.delete(name)
    })
  }

  /** Runs `task` after every earlier task of `name`; resolves (or rejects) with it. */
  run<T>(name: string, task: () => T | Promise<T>): Promise<T> {
    const previous = this.#queues.get(name) ?? Promise.resolve()
    const result = previous.then(task)
    const tail = result.then(
      () => {},
      () => {},
    )
    this.#queues.set(name, tail)
    tail.then(() => {
      if (this.#queues.get(name) === tail) this.#queues.delete(name)
    })
    return result
  }

  /** Resolves once every task queued so far ran (so every append they issue has been issued). */
  async whenIssued(): Promise<void> {
    await Promise.all(this.#queues.values())
  }

  /** The open document `name`, if any. */
  openDoc(name: string): OpenDocument | undefined {
    return this.#open.get(name)
  }

  /**
   * Opens `name`: after the document's earlier tasks and appends, loads it from the store into a
   * new Y.Doc and calls `create` (synchronously, before any later task of the document runs).
   * @throws the store's error when loading fails (nothing is registered then).
   */
  open<H extends OpenDocument>(name: string, create: (doc: Y.Doc, loaded: boolean) => H): Promise<H> {
    return this.run(name, async () => {
      await this.#appends.get(name)
      const doc = new Y.Doc()
      let loaded: boolean
      try {
        loaded = await this.store.loadInto(name, doc, LOCAL_STORE_ORIGIN)
      } catch (err) {
        doc.destroy()
        throw err
      }
      const handle = create(doc, loaded)
      this.#open.set(name, handle)
      this.#known.add(name)
      return handle
    })
  }

  /** Forgets the open document `name` (its handle closed); later updates go to the store. */
  closed(name: string, handle: OpenDocument): void {
    if (this.#open.get(name) === handle) this.#open.delete(name)
  }

  /**
   * Applies an update from a relay: to the Y.Doc when the document is open (with `origin`), else
   * appended to the store. Resolves once applied or handed to the store (not once durable).
   */
  applyRemote(name: string, update: Uint8Array, origin: unknown): Promise<ApplyOutcome> {
    return this.run(name, () => {
      // A late copy from a relay that has not heard of the delete yet must not bring it back.
      if (this.tombstones.has(name)) return 'deleted'
      const open = this.#open.get(name)
      if (open !== undefined) {
        try {
          Y.applyUpdate(open.doc, update, origin)
        } catch {
          return 'invalid'
        }
        return 'open'
      }
      return this.#append(name, update)
    })
  }

  async #append(name: string, update: Uint8Array): Promise<ApplyOutcome> {
    if (this.#recent.has(name, update)) return 'duplicate'
    const isNew = !this.#known.has(name) && !(await this.store.has(name).catch(() => true))
    this.#known.add(name)
    try {
      Y.decodeUpdate(update)
    } catch {
      return 'invalid'
    }
    const committed = this.store.append(name, update, { decoded: true })
    this.#recent.add(name, update)
    const settled = committed.then(
      () => {
        if (isNew) this.#noteArrived(name)
      },
      (err: unknown) => {
        if (isNew) this.#known.delete(name)
        if (
          !isRhizomeError(err, ErrorCode.STORE_CLOSED) &&
          !isRhizomeError(err, ErrorCode.PROTOCOL_MALFORMED)
        )
          console.warn('rhizome client: storing a replicated update failed:', err)
      },
    )
    this.#appends.set(name, settled)
    settled.then(() => {
      if (this.#appends.get(name) === settled) this.#appends.delete(name)
    })
    return 'stored'
  }

  /** The local state vector of `name` (empty for an unknown document). */
  stateVector(name: string): Promise<Uint8Array> {
    return this.run(name, async () => {
      const open = this.#open.get(name)
      if (open !== undefined) return Y.encodeStateVector(open.doc)
      await this.#appends.get(name)
      return (await this.store.getStateVector(name)) ?? EMPTY_STATE_VECTOR
    })
  }

  /**
   * What a replica with state vector `stateVector` lacks of the local `name` (an empty update when
   * nothing, or for an unknown document).
   * @throws RhizomeError PROTOCOL_MALFORMED when `stateVector` does not decode.
   */
  diff(name: string, stateVector: Uint8Array): Promise<Uint8Array> {
    return this.run(name, async () => {
      const open = this.#open.get(name)
      if (open !== undefined) return Y.encodeStateAsUpdate(open.doc, stateVector)
      await this.#appends.get(name)
      return (await this.store.diff(name, stateVector)) ?? EMPTY_UPDATE
    })
  }

  /** The whole local state of `name` as one update (an empty update for an unknown document). */
  fullState(name: string): Promise<Uint8Array> {
    return this.run(name, async () => {
      const open = this.#open.get(name)
      if (open !== undefined) return Y.encodeStateAsUpdate(open.doc)
      await this.#appends.get(name)
      return (await this.store.getUpdate(name)) ?? EMPTY_UPDATE
    })
  }

  /** The local digest of `name`, `null` when unknown (or corrupt). */
  digest(name: string): Promise<string | null> {
    return this.run(name, async () => {
      const open = this.#open.get(name)
      if (open !== undefined) return digestOfDoc(open.doc)
      await this.#appends.get(name)
      return this.store.getDigest(name).catch(() => null)
    })
  }

  #noteArrived(name: string): void {
    this.#arrived.push(name)
    if (this.#arrivedScheduled) return
    this.#arrivedScheduled = true
    setTimeout(() => {
      this.#arrivedScheduled = false
      const names = this.#arrived.sort()
      this.#arrived = []
      if (names.length > 0) this.#onArrived(names)
    }, 0)
  }
}
