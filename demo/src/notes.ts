/** Every note is a document under this prefix; the replica keeps all of them (see {@link NOTES_PATTERN}). */
export const NOTES_PREFIX = 'demo/notes/'

/** The namespace the demo replicates into this device's store, open or not (docs/PROTOCOL.md section 7.1). */
export const NOTES_PATTERN = `${NOTES_PREFIX}**`

/** The document of note `id`. */
export function noteDocName(id: string): string {
  return `${NOTES_PREFIX}${id}`
}

/** The note id of document `name` (its name without {@link NOTES_PREFIX}). */
export function noteIdOf(name: string): string {
  return name.slice(NOTES_PREFIX.length)
}

/**
 * A fresh note id. It starts with the creation time in base 36, so sorting ids (as `names()` does)
 * sorts notes by age.
 */
export function newNoteId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
}

/** A note's title: its first non-empty line without Markdown heading marks. */
export function titleOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? ''
  const title = line.replace(/^#+\s*/, '').trim()
  return title === '' ? 'Untitled' : title.slice(0, 80)
}
