import { h, replace } from './dom.js'
import type { Identity } from './identity.js'

/** The elements the app updates after building the page. */
export interface LayoutSlots {
  title: HTMLElement
  presence: HTMLElement
  /** Buttons acting on the open note, beside its title. */
  noteActions: HTMLElement
  editor: HTMLElement
  empty: HTMLElement
  pill: HTMLElement
  banner: HTMLElement
  /** The number of notes, beside the list's heading. */
  count: HTMLElement
}

/** What the page's own controls do. */
export interface LayoutActions {
  newNote(): void
  rename(name: string): void
}

/**
 * Builds the page into `root`: header (brand, network pill, your name), the note list, the editor
 * pane, and the side panels. Returns the elements the app fills in.
 */
export function buildLayout(
  root: HTMLElement,
  identity: Identity,
  list: HTMLElement,
  side: HTMLElement[],
  actions: LayoutActions,
): LayoutSlots {
  const slots: LayoutSlots = {
    title: h('h1', { class: 'note-title', 'data-testid': 'note-title' }),
    presence: h('div', { class: 'presence', 'data-testid': 'presence', 'aria-label': 'People on this note' }),
    noteActions: h('div', { class: 'note-actions-slot' }),
    editor: h('div', { class: 'editor' }),
    empty: h('div', { class: 'empty' }),
    pill: h('div', { class: 'net-pill', 'data-testid': 'net-pill', role: 'status' }),
    banner: h('div', { class: 'banner', role: 'status', hidden: true }),
    count: h('span', { class: 'note-count', 'data-testid': 'note-count' }),
  }
  const nameInput = h('input', {
    class: 'name-input',
    value: identity.name,
    'aria-label': 'Your name',
    'data-testid': 'user-name',
    maxlength: 24,
    onchange: (e) => actions.rename((e.target as HTMLInputElement).value),
  })
  const header = h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'brand' },
      h('span', { class: 'logo', 'aria-hidden': 'true' }),
      h('span', {}, 'Rhizome'),
      h('span', { class: 'brand-sub' }, 'notes'),
    ),
    slots.pill,
    h(
      'label',
      { class: 'me' },
      h('span', { class: 'swatch', style: `background:${identity.color}` }),
      h('span', { class: 'me-label' }, 'You are'),
      nameInput,
    ),
  )
  const notes = h(
    'aside',
    { class: 'notes', 'aria-label': 'Notes' },
    h(
      'div',
      { class: 'notes-head' },
      h('h2', {}, 'Notes ', slots.count),
      h(
        'button',
        { class: 'primary', 'data-testid': 'new-note', onclick: () => actions.newNote() },
        '+ New note',
      ),
    ),
    list,
  )
  const editorPane = h(
    'section',
    { class: 'editor-pane' },
    h('div', { class: 'note-head' }, slots.title, slots.presence, slots.noteActions),
    slots.editor,
    slots.empty,
  )
  replace(
    root,
    header,
    slots.banner,
    h('main', { class: 'layout' }, notes, editorPane, h('aside', { class: 'side' }, ...side)),
  )
  return slots
}
