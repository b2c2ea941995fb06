import type { DocHandle } from '@rhizome/client'
import type * as Y from 'yjs'

/** The document holding the list of notes. */
export const INDEX_DOC = 'demo/index'

/** The document of note `id`. */
export function noteDocName(id: string): string {
  return `demo/notes/${id}`
}

/** One entry of the index. Replaced as a whole on change: the last writer's title wins. */
export interface NoteMeta {
  title: string
  createdAt: number
  createdBy: string
}

export interface NoteEntry extends NoteMeta {
  id: string
}

/**
 * The list of notes: a Y.Map from note id to {@link NoteMeta} in the index document. Each note's
 * text lives in its own document, so opening the list never loads every note.
 */
export class NotesIndex {
  private readonly map: Y.Map<NoteMeta>

  constructor(readonly handle: DocHandle) {
    this.map = handle.doc.getMap<NoteMeta>('notes')
  }

  /** Every note, newest first. */
  list(): NoteEntry[] {
    return [...this.map.entries()]
      .map(([id, meta]) => ({ id, ...meta }))
      .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
  }

  get(id: string): NoteMeta | undefined {
    return this.map.get(id)
  }

  /** Adds a note and returns its id. */
  create(createdBy: string, title = 'Untitled'): string {
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    this.map.set(id, { title, createdAt: Date.now(), createdBy })
    return id
  }

  /** Sets a note's title (no-op when unchanged, so typing does not flood the index). */
  rename(id: string, title: string): void {
    const meta = this.map.get(id)
    if (meta !== undefined && meta.title !== title) this.map.set(id, { ...meta, title })
  }

  remove(id: string): void {
    this.map.delete(id)
  }

  /** Calls `listener` after every change of the list, local or remote. */
  observe(listener: () => void): void {
    this.map.observe(listener)
  }
}

/** A note's title: its first non-empty line without Markdown heading marks. */
export function titleOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? ''
  const title = line.replace(/^#+\s*/, '').trim()
  return title === '' ? 'Untitled' : title.slice(0, 80)
}
