import type { Replica } from '@rhizome/client'
import * as Y from 'yjs'
import { NOTES_PREFIX, noteIdOf, titleOf } from './notes.js'

/** Changes are announced at most this often: 1,000 notes arriving must not mean 1,000 renders. */
const CHANGE_COALESCE_MS = 100

/** One note of the list. */
export interface NoteEntry {
  id: string
  /** Its title, `null` until read from the local store. */
  title: string | null
  /** The local replica's digest (docs/PROTOCOL.md section 1), `null` while unknown. */
  digest: string | null
}

/**
 * The notes held by this device: every document of the replicated namespace in the local store
 * (`replica.names()` at start, the `docs` event as notes arrive, open or not), newest first. Titles
 * are read from the store without opening the notes; {@link NoteList.refresh} re-reads the local
 * catalog, so notes deleted on the relays leave the list and notes changed elsewhere get their new
 * title.
 */
export class NoteList {
  readonly #entries = new Map<string, NoteEntry>()
  readonly #listeners = new Set<() => void>()
  /** Titles of open notes come from their live Y.Text, never from the store. */
  readonly #live = new Set<string>()
  /** Notes deleted on the relays: left out even while the store still purges them. */
  readonly #deleted = new Set<string>()
  #titleQueue: string[] = []
  #readingTitles = false
  #changeTimer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly replica: Replica) {
    replica.on('docs', (names) => {
      for (const name of names) if (name.startsWith(NOTES_PREFIX)) this.#add(noteIdOf(name), null)
      this.#changed()
    })
  }

  /** Every note, newest first (ids start with their creation time). */
  list(): NoteEntry[] {
    return [...this.#entries.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  }

  get(id: string): NoteEntry | undefined {
    return this.#entries.get(id)
  }

  get size(): number {
    return this.#entries.size
  }

  /** Adds a note created on this device (the `docs` event reports only replicated arrivals). */
  created(id: string, title: string): void {
    this.#add(id, null).title = title
    this.#changed()
  }

  /** The title of an open note changed (`live`: its text is watched, so the store is not read). */
  setTitle(id: string, title: string, live = true): void {
    const entry = this.#entries.get(id)
    if (live) this.#live.add(id)
    if (entry === undefined || entry.title === title) return
    entry.title = title
    this.#changed()
  }

  /** The relays deleted the note: it leaves the list for good (names are never reused). */
  deleted(id: string): void {
    this.#deleted.add(id)
    this.#live.delete(id)
    if (this.#entries.delete(id)) this.#changed()
  }

  /** The note was closed: its title is read from the store again when it changes. */
  notLive(id: string): void {
    this.#live.delete(id)
  }

  /**
   * Re-reads the local catalog of the namespace: digests, notes that left the store, titles of
   * notes whose digest changed. Resolves once the catalog was read (titles follow in the background).
   */
  async refresh(): Promise<void> {
    const seen = new Set<string>()
    let changed = false
    for await (const { name, digest } of this.replica.store.catalog({ prefix: NOTES_PREFIX })) {
      const id = noteIdOf(name)
      if (this.#deleted.has(id)) continue
      seen.add(id)
      const had = this.#entries.has(id)
      const entry = this.#add(id, digest)
      if (!had) changed = true
      if (entry.digest !== digest) {
        entry.digest = digest
        if (!this.#live.has(id)) this.#queueTitle(id)
        changed = true
      }
    }
    for (const id of [...this.#entries.keys()]) {
      if (!seen.has(id) && !this.#live.has(id)) {
        this.#entries.delete(id)
        changed = true
      }
    }
    if (changed) this.#changed()
  }

  /** Calls `listener` (coalesced) after the list, a title or a digest changed. */
  onChange(listener: () => void): void {
    this.#listeners.add(listener)
  }

  #add(id: string, digest: string | null): NoteEntry {
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      entry = { id, title: null, digest }
      this.#entries.set(id, entry)
      this.#queueTitle(id)
    }
    return entry
  }

  #queueTitle(id: string): void {
    this.#titleQueue.push(id)
    if (!this.#readingTitles) void this.#readTitles()
  }

  /** One note at a time, so reading 1,000 titles never competes with the editor for long. */
  async #readTitles(): Promise<void> {
    this.#readingTitles = true
    try {
      while (this.#titleQueue.length > 0) {
        const batch = [...new Set(this.#titleQueue)]
        this.#titleQueue = []
        for (const id of batch) {
          const entry = this.#entries.get(id)
          if (entry === undefined || this.#live.has(id)) continue
          const title = await this.#readTitle(id)
          if (title !== null && entry.title !== title && !this.#live.has(id)) {
            entry.title = title
            this.#changed()
          }
        }
      }
    } finally {
      this.#readingTitles = false
    }
  }

  async #readTitle(id: string): Promise<string | null> {
    const update = await this.replica.store.getUpdate(`${NOTES_PREFIX}${id}`).catch(() => null)
    if (update === null) return null
    const doc = new Y.Doc()
    try {
      Y.applyUpdate(doc, update)
      return titleOf(doc.getText('body').toString())
    } finally {
      doc.destroy()
    }
  }

  #changed(): void {
    if (this.#changeTimer !== null) return
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = null
      for (const l of this.#listeners) l()
    }, CHANGE_COALESCE_MS)
  }
}
