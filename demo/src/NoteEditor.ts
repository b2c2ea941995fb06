import { markdown } from '@codemirror/lang-markdown'
import { basicSetup, EditorView } from 'codemirror'
import { yCollab } from 'y-codemirror.next'
import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import type { Identity } from './identity.js'

/**
 * A CodeMirror 6 editor bound to a note's Y.Text with y-codemirror.next: edits go through the
 * Y.Doc (so into the local store and to every relay), and remote cursors and names come from the
 * handle's awareness.
 */
export class NoteEditor {
  readonly view: EditorView
  private readonly undoManager: Y.UndoManager

  constructor(parent: HTMLElement, text: Y.Text, awareness: Awareness, identity: Identity) {
    this.undoManager = new Y.UndoManager(text)
    setPresence(awareness, identity)
    this.view = new EditorView({
      doc: text.toString(),
      extensions: [
        basicSetup,
        markdown(),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': 'Note text', 'data-testid': 'editor-content' }),
        yCollab(text, awareness, { undoManager: this.undoManager }),
      ],
      parent,
    })
  }

  focus(): void {
    this.view.focus()
  }

  destroy(): void {
    this.view.destroy()
    this.undoManager.destroy()
  }
}

/**
 * Announces this user (name and cursor color) on a note's awareness. Sets the whole state:
 * `setLocalStateField` does nothing once the state was cleared (when the user left the note).
 */
export function setPresence(awareness: Awareness, identity: Identity): void {
  awareness.setLocalState({
    ...(awareness.getLocalState() ?? {}),
    user: { name: identity.name, color: identity.color, colorLight: identity.colorLight },
  })
}
