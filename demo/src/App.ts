import type { DocHandle, Replica } from '@rhizome/client'
import type * as Y from 'yjs'
import { buildLayout, type LayoutSlots } from './appLayout.js'
import { ChaosPanel } from './ChaosPanel.js'
import { DeleteNoteButton } from './DeleteNoteButton.js'
import { h, replace } from './dom.js'
import { HistoryPanel } from './HistoryPanel.js'
import { type Identity, saveIdentity } from './identity.js'
import type { NetworkGate } from './NetworkGate.js'
import { NoteEditor, setPresence } from './NoteEditor.js'
import type { NoteList } from './NoteList.js'
import { NoteListView, type PresentUser } from './NoteListView.js'
import { networkPill } from './networkPill.js'
import { NOTES_PREFIX, newNoteId, noteDocName, titleOf } from './notes.js'
import { RelayCoverage } from './RelayCoverage.js'
import { ReplicasPanel } from './ReplicasPanel.js'
import { fetchSupervisorState, type SupervisorState } from './supervisorApi.js'
import { WipeNoteButton } from './WipeNoteButton.js'
import { WELCOME_TEXT } from './welcome.js'

/** A drop in copies is shown only if it lasts this long: every keystroke dips until its ACK. */
const COPIES_DROP_DELAY_MS = 700
const SUPERVISOR_POLL_MS = 1000
/** How often the list's relay counts (local and relay catalogs) are re-read. */
const COVERAGE_POLL_MS = 2000

/** The note in the editor: the only note this page holds open (the others live in the store). */
interface OpenNote {
  id: string
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
 * The notes app. The replica keeps every note of the namespace in this device's store over one
 * session per relay; the list comes from that store. Only the note in the editor is open (a
 * handle with its Y.Doc, CodeMirror binding and awareness); the others cost no memory.
 */
export class App {
  private note: OpenNote | null = null
  private current: string | null = null
  /** Incremented by every selection, so a slow open of an earlier selection is dropped. */
  private selection = 0
  private closing: Promise<void> = Promise.resolve()
  private editor: NoteEditor | null = null
  private supervisor: SupervisorState | null = null
  private shownCopies = 0
  private copiesTimer: ReturnType<typeof setTimeout> | null = null
  private readonly replicas = new ReplicasPanel()
  private readonly chaos: ChaosPanel
  private readonly history = new HistoryPanel()
  private readonly wipe = new WipeNoteButton(() => this.history.remember())
  private readonly deleteButton = new DeleteNoteButton()
  private readonly coverage = new RelayCoverage(NOTES_PREFIX)
  private readonly listView = new NoteListView((id) => {
    void this.select(id).then(() => this.editor?.focus())
  })
  private el: LayoutSlots | null = null

  constructor(
    private readonly root: HTMLElement,
    private readonly replica: Replica,
    private readonly list: NoteList,
    private readonly gate: NetworkGate,
    private readonly identity: Identity,
    private readonly slot: number,
  ) {
    this.chaos = new ChaosPanel(gate, () => this.pollSupervisor(), this.wipe.el)
    gate.onChange(() => this.renderChrome())
  }

  /** Builds the page, shows the notes in the local store and starts polling. */
  async start(supervisor: SupervisorState | null): Promise<void> {
    this.supervisor = supervisor
    this.el = buildLayout(
      this.root,
      this.identity,
      this.listView.el,
      [this.replicas.el, this.history.el, this.chaos.el],
      {
        newNote: () => this.createNote(''),
        rename: (name) => this.rename(name),
      },
    )
    this.el.noteActions.append(this.deleteButton.el)
    this.list.onChange(() => this.listOnChange())
    this.replica.on('status', () => this.renderChrome())
    window.addEventListener('hashchange', () => void this.select(this.idFromHash()))
    await this.list.refresh()
    this.listOnChange()
    this.renderChrome()
    this.chaos.render(this.supervisor)
    setInterval(() => void this.pollSupervisor(), SUPERVISOR_POLL_MS)
    this.pollCoverage()
    this.root.removeAttribute('aria-busy')
    // A brand-new mesh gets one welcome note, once a relay's (empty) namespace has arrived: a
    // device that never reached a relay does not invent one.
    this.replica
      .whenReplicated()
      // The store holds the namespace now; the list may not have heard of all of it yet.
      .then(() => this.list.refresh())
      .then(
        () => {
          if (this.list.size === 0) this.createNote(WELCOME_TEXT)
        },
        () => {},
      )
  }

  private pollCoverage(): void {
    void Promise.all([this.list.refresh(), this.coverage.refresh()])
      .catch(() => {})
      .then(() => {
        this.renderList()
        setTimeout(() => this.pollCoverage(), COVERAGE_POLL_MS)
      })
  }

  private idFromHash(): string | null {
    const m = /^#\/note\/(.+)$/.exec(location.hash)
    return m ? decodeURIComponent(m[1]!) : null
  }

  private listOnChange(): void {
    if (this.current === null || this.list.get(this.current) === undefined) {
      const wanted = this.idFromHash()
      const first = this.list.list()[0]?.id ?? null
      void this.select(wanted !== null && this.list.get(wanted) ? wanted : first)
    }
    this.renderList()
  }

  /** Shows note `id` in the editor (closing the one before); null shows the empty state. */
  private async select(id: string | null): Promise<void> {
    if (id !== null && this.list.get(id) === undefined) id = null
    if (id === this.current) return
    const selection = ++this.selection
    this.closeNote()
    this.current = id
    if (id !== null && this.idFromHash() !== id)
      history.replaceState(null, '', `#/note/${encodeURIComponent(id)}`)
    this.showEmpty(
      id === null ? 'No notes yet. Create one with “+ New note”.' : 'Opening the note from this device…',
    )
    this.renderAll()
    this.history.show(id === null ? null : noteDocName(id))
    this.deleteButton.setNote(id === null ? null : noteDocName(id))
    if (id === null) return
    await this.closing
    const handle = await this.replica.open(noteDocName(id))
    if (selection !== this.selection) return
    this.note = this.watch(id, handle)
    replace(this.el!.empty)
    this.editor = new NoteEditor(this.el!.editor, this.note.text, handle.awareness, this.identity)
    this.shownCopies = handle.copies
    this.wipe.setNote(handle)
    this.renderAll()
  }

  /** Closes the open note's editor and handle: it goes back to living in the store only. */
  private closeNote(): void {
    this.editor?.destroy()
    this.editor = null
    this.wipe.setNote(null)
    const note = this.note
    this.note = null
    if (note === null) return
    this.list.notLive(note.id)
    this.closing = note.handle.close().catch(() => {})
  }

  private watch(id: string, handle: DocHandle): OpenNote {
    const note: OpenNote = {
      id,
      handle,
      text: handle.doc.getText('body'),
      pending: 0,
      localIssued: 0,
      localSaved: 0,
    }
    handle.doc.on('update', (_u: Uint8Array, _o: unknown, _d: Y.Doc, tr: Y.Transaction) => {
      if (!tr.local) return
      note.pending++
      const seq = ++note.localIssued
      handle.whenDurable(0).then(
        () => {
          note.localSaved = Math.max(note.localSaved, seq)
          if (this.note === note) this.renderReplicas()
        },
        () => {},
      )
    })
    this.list.setTitle(id, titleOf(note.text.toString()))
    note.text.observe(() => {
      this.list.setTitle(id, titleOf(note.text.toString()))
      if (this.note === note) this.renderTitle()
    })
    handle.on('status', (status) => {
      if (status.deleted === true) return this.noteDeleted(note)
      if (status.copies > 0) note.pending = 0
      if (this.note !== note) return
      this.renderReplicas()
      this.renderList()
    })
    handle.awareness.on('change', () => {
      if (this.note !== note) return
      this.renderPresence()
      this.renderList()
    })
    return note
  }

  /** The relays deleted the open note (on any device): it leaves the list and the editor. */
  private noteDeleted(note: OpenNote): void {
    this.list.deleted(note.id)
    if (this.note !== note) return
    this.closeNote()
    this.current = null
    this.listOnChange()
  }

  private showEmpty(text: string): void {
    replace(this.el!.empty, h('p', {}, text))
  }

  private createNote(text: string): void {
    const id = newNoteId()
    this.list.created(id, titleOf(text))
    void this.replica.open(noteDocName(id)).then(async (handle) => {
      const body = handle.doc.getText('body')
      if (text !== '' && body.length === 0) body.insert(0, text)
      await this.select(id)
      this.editor?.focus()
    })
  }

  private rename(name: string): void {
    const trimmed = name.trim().slice(0, 24)
    if (trimmed === '') return
    this.identity.name = trimmed
    saveIdentity(this.slot, this.identity)
    if (this.note !== null) setPresence(this.note.handle.awareness, this.identity)
  }

  async pollSupervisor(): Promise<void> {
    const state = await fetchSupervisorState()
    this.supervisor = state
    this.chaos.render(state)
    this.renderReplicas()
  }

  private renderAll(): void {
    this.renderTitle()
    this.renderPresence()
    this.renderReplicas()
    this.renderList()
  }

  private renderTitle(): void {
    const entry = this.current === null ? undefined : this.list.get(this.current)
    const title = this.note ? titleOf(this.note.text.toString()) : (entry?.title ?? 'Rhizome notes')
    this.el!.title.textContent = title
    document.title = `${title} · Rhizome notes`
  }

  private remoteUsers(): PresentUser[] {
    const note = this.note
    const users: PresentUser[] = []
    note?.handle.awareness.getStates().forEach((state, clientId) => {
      const user = (state as AwarenessUser).user
      if (clientId !== note.handle.doc.clientID && user?.name) {
        users.push({ name: user.name, color: user.color ?? '#666' })
      }
    })
    return users
  }

  private renderPresence(): void {
    replace(
      this.el!.presence,
      ...this.remoteUsers().map((u) =>
        h('span', { class: 'avatar', style: `background:${u.color}`, title: `${u.name} is here` }, u.name),
      ),
    )
  }

  private renderList(): void {
    const open = this.note
    this.listView.render({
      entries: this.list.list(),
      current: this.current,
      total: this.replica.relays.length,
      // The open note counts durable ACKs (live); the others compare catalogs (see RelayCoverage).
      copiesOf: (entry) =>
        open?.id === entry.id
          ? open.handle.copies
          : this.coverage.copies(noteDocName(entry.id), entry.digest),
      here: this.remoteUsers(),
    })
    this.el!.count.textContent = String(this.list.size)
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
        this.shownCopies = this.note?.handle.copies ?? 0
        this.renderReplicas()
      }, COPIES_DROP_DELAY_MS)
    }
    return this.shownCopies
  }

  private renderReplicas(): void {
    const note = this.note
    const status = note?.handle.status ?? null
    this.replicas.render({
      relays: this.replica.relays,
      status,
      copies: status === null ? 0 : this.displayedCopies(status.copies),
      savedLocally: note === null || note.localSaved === note.localIssued,
      pending: note?.pending ?? 0,
      cutOff: this.gate.cut,
      supervised: this.supervisor?.relays ?? null,
    })
  }

  private renderChrome(): void {
    const pill = networkPill(this.replica.status, this.gate.cut)
    this.el!.pill.className = `net-pill ${pill.level}`
    this.el!.pill.textContent = pill.text
    this.el!.banner.hidden = !this.gate.cut
    this.el!.banner.textContent = this.gate.cut
      ? 'This browser is cut off the network. Keep writing: every edit is saved on this device and syncs when you reconnect.'
      : ''
    this.renderReplicas()
  }
}
