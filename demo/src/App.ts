import type { DocHandle, DocStatus, Replica } from '@rhizome/client'
import type * as Y from 'yjs'
import { ChaosPanel } from './ChaosPanel.js'
import { h, replace } from './dom.js'
import { type Identity, saveIdentity } from './identity.js'
import type { NetworkGate } from './NetworkGate.js'
import { NoteEditor, setPresence } from './NoteEditor.js'
import { type NotesIndex, noteDocName, titleOf } from './NotesIndex.js'
import { ReplicasPanel } from './ReplicasPanel.js'
import { fetchSupervisorState, type SupervisorState } from './supervisorApi.js'
import { WELCOME_TEXT } from './welcome.js'

/** A drop in copies is shown only if it lasts this long: every keystroke dips until its ACK. */
const COPIES_DROP_DELAY_MS = 700
const SUPERVISOR_POLL_MS = 1000

/** What the app tracks per open note beyond its handle. */
interface OpenNote {
  handle: DocHandle
  text: Y.Text
  /** Local edits no relay holds yet; cleared once the handle reports copies > 0. */
  pending: number
  /** Local updates issued / known to be in the local store. */
  localIssued: number
  localSaved: number
}

interface AwarenessUser {
  user?: { name?: string; color?: string }
}

/**
 * The notes app: the index and every note open on the replica (so all of them are refilled into
 * wiped relays on reconnect, and each shows its durability), one CodeMirror editor for the current
 * note, and the replicas and chaos panels.
 */
export class App {
  private readonly notes = new Map<string, OpenNote>()
  private current: string | null = null
  private editor: NoteEditor | null = null
  private supervisor: SupervisorState | null = null
  private shownCopies = 0
  private copiesTimer: ReturnType<typeof setTimeout> | null = null
  private readonly replicas = new ReplicasPanel()
  private readonly chaos: ChaosPanel
  private readonly el = {
    list: h('ul', { class: 'note-list', 'data-testid': 'note-list' }),
    title: h('h1', { class: 'note-title', 'data-testid': 'note-title' }),
    presence: h('div', { class: 'presence', 'data-testid': 'presence', 'aria-label': 'People on this note' }),
    editor: h('div', { class: 'editor' }),
    empty: h('div', { class: 'empty' }),
    pill: h('div', { class: 'net-pill', 'data-testid': 'net-pill', role: 'status' }),
    banner: h('div', { class: 'banner', role: 'status', hidden: true }),
  }

  constructor(
    private readonly root: HTMLElement,
    private readonly replica: Replica,
    private readonly index: NotesIndex,
    private readonly gate: NetworkGate,
    private readonly identity: Identity,
    private readonly slot: number,
  ) {
    this.chaos = new ChaosPanel(gate, () => this.pollSupervisor())
    gate.onChange(() => this.renderChrome())
  }

  /** Builds the page, opens every note of the index and starts polling the supervisor. */
  async start(supervisor: SupervisorState | null): Promise<void> {
    this.supervisor = supervisor
    this.buildLayout()
    this.index.observe(() => this.indexOnChange())
    this.index.handle.on('status', () => this.renderChrome())
    window.addEventListener('hashchange', () => this.select(this.idFromHash()))
    this.indexOnChange()
    this.renderChrome()
    this.chaos.render(this.supervisor)
    setInterval(() => void this.pollSupervisor(), SUPERVISOR_POLL_MS)
    this.root.removeAttribute('aria-busy')
    // A brand-new mesh gets one welcome note, once a relay's (empty) list has arrived: a device
    // that never reached a relay does not invent one.
    this.index.handle.whenSynced().then(
      () => {
        if (this.index.list().length === 0) this.createNote(WELCOME_TEXT)
      },
      () => {},
    )
  }

  private buildLayout(): void {
    const nameInput = h('input', {
      class: 'name-input',
      value: this.identity.name,
      'aria-label': 'Your name',
      'data-testid': 'user-name',
      maxlength: 24,
      onchange: (e) => this.rename((e.target as HTMLInputElement).value),
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
      this.el.pill,
      h(
        'label',
        { class: 'me' },
        h('span', { class: 'swatch', style: `background:${this.identity.color}` }),
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
        h('h2', {}, 'Notes'),
        h(
          'button',
          { class: 'primary', 'data-testid': 'new-note', onclick: () => this.createNote('') },
          '+ New note',
        ),
      ),
      this.el.list,
    )
    const editorPane = h(
      'section',
      { class: 'editor-pane' },
      h(
        'div',
        { class: 'note-head' },
        this.el.title,
        this.el.presence,
        h(
          'button',
          { class: 'ghost', 'data-testid': 'delete-note', onclick: () => this.deleteCurrent() },
          'Delete',
        ),
      ),
      this.el.editor,
      this.el.empty,
    )
    const side = h('aside', { class: 'side' }, this.replicas.el, this.chaos.el)
    replace(this.root, header, this.el.banner, h('main', { class: 'layout' }, notes, editorPane, side))
  }

  private idFromHash(): string | null {
    const m = /^#\/note\/(.+)$/.exec(location.hash)
    return m ? decodeURIComponent(m[1]!) : null
  }

  private indexOnChange(): void {
    const entries = this.index.list()
    for (const entry of entries) if (!this.notes.has(entry.id)) void this.openNote(entry.id)
    for (const id of [...this.notes.keys()]) {
      if (this.index.get(id) === undefined) {
        const note = this.notes.get(id)!
        this.notes.delete(id)
        void note.handle.close()
      }
    }
    if (this.current === null || this.index.get(this.current) === undefined) {
      const wanted = this.idFromHash()
      this.select(wanted !== null && this.index.get(wanted) ? wanted : (entries[0]?.id ?? null))
    }
    this.renderList()
  }

  private async openNote(id: string): Promise<OpenNote> {
    const existing = this.notes.get(id)
    if (existing) return existing
    const handle = await this.replica.open(noteDocName(id))
    const again = this.notes.get(id)
    if (again) return again
    const note: OpenNote = {
      handle,
      text: handle.doc.getText('body'),
      pending: 0,
      localIssued: 0,
      localSaved: 0,
    }
    this.notes.set(id, note)
    handle.doc.on('update', (_u: Uint8Array, _o: unknown, _d: Y.Doc, tr: Y.Transaction) => {
      if (!tr.local) return
      note.pending++
      const seq = ++note.localIssued
      handle.whenDurable(0).then(
        () => {
          note.localSaved = Math.max(note.localSaved, seq)
          if (id === this.current) this.renderReplicas()
        },
        () => {},
      )
    })
    note.text.observe((event) => {
      if (event.transaction.local) this.index.rename(id, titleOf(note.text.toString()))
      if (id === this.current) this.renderTitle()
    })
    handle.on('status', (status) => this.noteOnStatus(id, note, status))
    handle.awareness.on('change', () => {
      if (id === this.current) this.renderPresence()
      this.renderList()
    })
    if (id !== this.current) handle.awareness.setLocalState(null)
    if (id === this.current && this.editor === null) this.select(id)
    this.renderList()
    return note
  }

  private noteOnStatus(id: string, note: OpenNote, status: DocStatus): void {
    if (status.copies > 0) note.pending = 0
    if (id === this.current) this.renderReplicas()
    this.renderList()
    this.renderChrome()
  }

  private select(id: string | null): void {
    if (id !== null && this.index.get(id) === undefined) id = null
    const note = id === null ? undefined : this.notes.get(id)
    if (id === this.current && (note === undefined || this.editor !== null)) return
    this.editor?.destroy()
    this.editor = null
    if (this.current !== null && this.current !== id)
      this.notes.get(this.current)?.handle.awareness.setLocalState(null)
    this.current = id
    if (id !== null && this.idFromHash() !== id)
      history.replaceState(null, '', `#/note/${encodeURIComponent(id)}`)
    if (note !== undefined) {
      replace(this.el.empty)
      this.editor = new NoteEditor(this.el.editor, note.text, note.handle.awareness, this.identity)
      this.shownCopies = note.handle.copies
    } else {
      replace(
        this.el.empty,
        h(
          'p',
          {},
          id === null ? 'No notes yet. Create one with “+ New note”.' : 'Opening the note from this device…',
        ),
      )
    }
    this.renderTitle()
    this.renderPresence()
    this.renderReplicas()
    this.renderList()
  }

  private createNote(text: string): void {
    const id = this.index.create(this.identity.name, text === '' ? 'Untitled' : titleOf(text))
    void this.openNote(id).then((note) => {
      if (text !== '' && note.text.length === 0) note.text.insert(0, text)
      this.select(id)
      this.editor?.focus()
    })
  }

  private deleteCurrent(): void {
    if (this.current === null) return
    const title = this.index.get(this.current)?.title ?? 'this note'
    if (!confirm(`Delete “${title}” for everyone?`)) return
    this.index.remove(this.current)
  }

  private rename(name: string): void {
    const trimmed = name.trim().slice(0, 24)
    if (trimmed === '') return
    this.identity.name = trimmed
    saveIdentity(this.slot, this.identity)
    if (this.current !== null) {
      const note = this.notes.get(this.current)
      if (note) setPresence(note.handle.awareness, this.identity)
    }
  }

  async pollSupervisor(): Promise<void> {
    const state = await fetchSupervisorState()
    this.supervisor = state
    this.chaos.render(state)
    this.renderReplicas()
  }

  private renderTitle(): void {
    const meta = this.current === null ? undefined : this.index.get(this.current)
    const note = this.current === null ? undefined : this.notes.get(this.current)
    const title = note ? titleOf(note.text.toString()) : (meta?.title ?? 'Rhizome notes')
    this.el.title.textContent = title
    document.title = `${title} · Rhizome notes`
  }

  private remoteUsers(note: OpenNote): { name: string; color: string }[] {
    const users: { name: string; color: string }[] = []
    note.handle.awareness.getStates().forEach((state, clientId) => {
      const user = (state as AwarenessUser).user
      if (clientId !== note.handle.doc.clientID && user?.name) {
        users.push({ name: user.name, color: user.color ?? '#666' })
      }
    })
    return users
  }

  private renderPresence(): void {
    const note = this.current === null ? undefined : this.notes.get(this.current)
    const users = note ? this.remoteUsers(note) : []
    replace(
      this.el.presence,
      ...users.map((u) =>
        h('span', { class: 'avatar', style: `background:${u.color}`, title: `${u.name} is here` }, u.name),
      ),
    )
  }

  private renderList(): void {
    const items = this.index.list().map((entry) => {
      const note = this.notes.get(entry.id)
      const copies = note?.handle.copies ?? 0
      const total = this.replica.relays.length
      const here = note ? this.remoteUsers(note) : []
      return h(
        'li',
        {},
        h(
          'button',
          {
            class: `note-item ${entry.id === this.current ? 'active' : ''}`,
            'data-testid': 'note-item',
            'data-note-id': entry.id,
            'aria-current': entry.id === this.current ? 'true' : 'false',
            onclick: () => {
              this.select(entry.id)
              this.editor?.focus()
            },
          },
          h('span', { class: 'note-item-title' }, entry.title),
          h(
            'span',
            { class: 'note-item-meta' },
            h(
              'span',
              { class: `copies-chip ${copies === 0 ? 'zero' : copies === total ? 'full' : ''}` },
              copies === 0 ? 'device only' : `${copies}/${total} relays`,
            ),
            ...here.map((u) =>
              h('span', { class: 'mini-avatar', style: `background:${u.color}`, title: u.name }),
            ),
          ),
        ),
      )
    })
    replace(this.el.list, ...items)
  }

  /** Copies shown for the current note: rises at once, falls only if the drop persists. */
  private displayedCopies(actual: number): number {
    if (actual >= this.shownCopies) {
      if (this.copiesTimer !== null) clearTimeout(this.copiesTimer)
      this.copiesTimer = null
      this.shownCopies = actual
    } else if (this.copiesTimer === null) {
      this.copiesTimer = setTimeout(() => {
        this.copiesTimer = null
        const note = this.current === null ? undefined : this.notes.get(this.current)
        this.shownCopies = note?.handle.copies ?? 0
        this.renderReplicas()
      }, COPIES_DROP_DELAY_MS)
    }
    return this.shownCopies
  }

  private renderReplicas(): void {
    const note = this.current === null ? undefined : this.notes.get(this.current)
    const status = note?.handle.status ?? null
    this.replicas.render({
      relays: this.replica.relays,
      status,
      copies: status === null ? 0 : this.displayedCopies(status.copies),
      savedLocally: note === undefined || note.localSaved === note.localIssued,
      pending: note?.pending ?? 0,
      cutOff: this.gate.cut,
      supervised: this.supervisor?.relays ?? null,
    })
  }

  private renderChrome(): void {
    const status = this.index.handle.status
    const synced = status.relays.filter((r) => r.state === 'synced').length
    const total = status.relays.length
    this.el.pill.className = `net-pill ${this.gate.cut || synced === 0 ? 'down' : synced < total ? 'partial' : 'ok'}`
    this.el.pill.textContent = this.gate.cut
      ? 'Offline: cut off'
      : synced === 0
        ? 'Offline: no relay'
        : `${synced} of ${total} relays synced`
    this.el.banner.hidden = !this.gate.cut
    this.el.banner.textContent = this.gate.cut
      ? 'This browser is cut off the network. Keep writing: every edit is saved on this device and syncs when you reconnect.'
      : ''
    this.renderReplicas()
  }
}
