import type { DocHandle } from '@rhizome/client'
import { h, replace } from './dom.js'
import { wipeDoc } from './wipeDoc.js'

/** The transaction origin of a wipe, so it is told apart from the user's typing. */
export const BAD_CLIENT_ORIGIN = 'demo:bad-client'
/** How long the wipe waits for the note to be durable on the synced relays before it strikes. */
const DURABLE_WAIT_MS = 5000

/**
 * The chaos button "A bad client wipes this note": deletes all of the open note's content through
 * its handle's Y.Doc, as a buggy client would, so the deletion replicates to every relay and device.
 * Before it strikes it lets `beforeWipe` record the current restore point (see HistoryPanel).
 */
export class WipeNoteButton {
  readonly el: HTMLElement = h('div', { class: 'chaos-note' })
  private handle: DocHandle | null = null
  private busy = false

  constructor(private readonly beforeWipe: () => Promise<void>) {
    this.render()
  }

  /** The note the button wipes (null: no note open, the button is disabled). */
  setNote(handle: DocHandle | null): void {
    this.handle = handle
    this.render()
  }

  private async wipe(): Promise<void> {
    const handle = this.handle
    if (handle === null) return
    this.busy = true
    this.render()
    try {
      // What this page wrote must be on the relays first, or history has nothing to restore.
      const synced = handle.status.relays.filter((r) => r.state === 'synced').length
      await handle.whenDurable(Math.max(1, synced), { timeout: DURABLE_WAIT_MS }).catch(() => {})
      await this.beforeWipe()
      if (this.handle === handle) wipeDoc(handle.doc, BAD_CLIENT_ORIGIN)
    } finally {
      this.busy = false
      this.render()
    }
  }

  private render(): void {
    replace(
      this.el,
      h(
        'button',
        {
          class: 'danger wide',
          'data-testid': 'wipe-note',
          disabled: this.handle === null || this.busy,
          title: 'Deletes every character of the open note, on every relay and device, like a buggy client',
          onclick: () => void this.wipe(),
        },
        this.busy ? 'Wiping…' : 'A bad client wipes this note',
      ),
    )
  }
}
