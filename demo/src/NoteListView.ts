import { h, replace } from './dom.js'
import type { NoteEntry } from './NoteList.js'

/** A user present on the open note, from its awareness. */
export interface PresentUser {
  name: string
  color: string
}

/** What one render of the list needs. */
export interface NoteListState {
  entries: NoteEntry[]
  current: string | null
  /** Relays configured on the replica. */
  total: number
  /** Relay stores holding the note's local state, null when the demo cannot tell (see RelayCoverage). */
  copiesOf(entry: NoteEntry): number | null
  /** Other users on the open note. */
  here: PresentUser[]
}

/**
 * The note list: one button per note with its title and where it lives (`k/N relays`, or `device
 * only`; `on this device` when no relay count is known). Clicking calls `onSelect`.
 */
export class NoteListView {
  readonly el = h('ul', { class: 'note-list', 'data-testid': 'note-list' })

  constructor(private readonly onSelect: (id: string) => void) {}

  render(state: NoteListState): void {
    replace(this.el, ...state.entries.map((entry) => this.#item(entry, state)))
  }

  #item(entry: NoteEntry, state: NoteListState): HTMLElement {
    const current = entry.id === state.current
    const copies = state.copiesOf(entry)
    const chip =
      copies === null
        ? h(
            'span',
            { class: 'copies-chip', title: 'Relay copies are counted for the open note only' },
            'on this device',
          )
        : h(
            'span',
            {
              class: `copies-chip ${copies === 0 ? 'zero' : copies === state.total ? 'full' : ''}`,
              title: 'Relays holding this note as it is on this device',
            },
            copies === 0 ? 'device only' : `${copies}/${state.total} relays`,
          )
    return h(
      'li',
      {},
      h(
        'button',
        {
          class: `note-item ${current ? 'active' : ''}`,
          'data-testid': 'note-item',
          'data-note-id': entry.id,
          'aria-current': current ? 'true' : 'false',
          onclick: () => this.onSelect(entry.id),
        },
        h('span', { class: 'note-item-title' }, entry.title ?? '…'),
        h(
          'span',
          { class: 'note-item-meta' },
          chip,
          ...(current ? state.here : []).map((u) =>
            h('span', { class: 'mini-avatar', style: `background:${u.color}`, title: u.name }),
          ),
        ),
      ),
    )
  }
}
