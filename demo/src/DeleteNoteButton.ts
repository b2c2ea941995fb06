import { h, replace } from './dom.js'
import { deleteEverywhere } from './relayDocApi.js'

/**
 * "Delete" for the open note, asking once more before it acts: deletes the note on every relay
 * (a tombstone the mesh replicates, docs/PROTOCOL.md section 9); every device then drops it from
 * its store and its list, and an open handle reports `deleted: true`.
 */
export class DeleteNoteButton {
  readonly el: HTMLElement = h('div', { class: 'note-actions' })
  private doc: string | null = null
  private confirming = false
  private busy = false
  private error: string | null = null

  constructor() {
    this.render()
  }

  /** The note the button deletes (null: none open, nothing shown). */
  setNote(doc: string | null): void {
    if (doc === this.doc) return
    this.doc = doc
    this.confirming = false
    this.error = null
    this.render()
  }

  private async remove(): Promise<void> {
    const doc = this.doc
    if (doc === null) return
    this.busy = true
    this.render()
    try {
      await deleteEverywhere(doc)
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err)
    } finally {
      this.busy = false
      this.confirming = false
      this.render()
    }
  }

  private render(): void {
    if (this.doc === null) {
      replace(this.el)
      return
    }
    const error = this.error ? h('span', { class: 'error', role: 'alert' }, this.error) : null
    if (!this.confirming) {
      replace(
        this.el,
        error,
        h(
          'button',
          {
            'data-testid': 'delete-note',
            onclick: () => {
              this.confirming = true
              this.error = null
              this.render()
            },
          },
          'Delete',
        ),
      )
      return
    }
    replace(
      this.el,
      h('span', { class: 'confirm-text' }, 'Delete on every relay and device?'),
      h(
        'button',
        {
          class: 'danger',
          'data-testid': 'delete-note-confirm',
          disabled: this.busy,
          onclick: () => void this.remove(),
        },
        this.busy ? 'Deleting…' : 'Delete everywhere',
      ),
      h(
        'button',
        {
          'data-testid': 'delete-note-cancel',
          disabled: this.busy,
          onclick: () => {
            this.confirming = false
            this.render()
          },
        },
        'Cancel',
      ),
    )
  }
}
