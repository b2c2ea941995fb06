import { h, replace } from './dom.js'
import { fetchRestorePoints, fetchTextAt, type RestorePoint, revertTo } from './relayDocApi.js'

/** How often an open timeline re-reads the relay's restore points. */
const POLL_MS = 2000
/** Points whose text is fetched for a preview (newest first): enough to find the one to restore. */
const PREVIEWS = 12
const PREVIEW_CHARS = 140

const keyOf = (p: RestorePoint) => `${p.relay}:${p.at}`

/**
 * The open note's history: its restore points as a timeline, newest first, each with a preview
 * of its text and "Restore this version" (a forward revert on the relay, docs/PROTOCOL.md sections
 * 9 and 10, that reaches every relay and device like an edit).
 *
 * The timeline keeps every point this page has seen, not only the relay's current list: a relay
 * lists one point per minute at that minute's latest receive time, so a later edit in the same
 * minute (a wipe, say) moves the point it listed, while every earlier moment stays exactly
 * restorable for 24 hours. {@link HistoryPanel.remember} records the current point before a change.
 */
export class HistoryPanel {
  readonly el: HTMLElement
  private readonly body = h('div', { class: 'panel-body' })
  private doc: string | null = null
  private open = false
  private readonly points = new Map<string, RestorePoint>()
  private readonly previews = new Map<string, string | null>()
  private message: { text: string; error: boolean } | null = null
  private busy = false
  private timer: ReturnType<typeof setTimeout> | null = null
  /** Incremented per note, so a slow answer about an earlier note is dropped. */
  private generation = 0

  constructor() {
    this.el = h(
      'section',
      { class: 'panel history', 'aria-labelledby': 'history-title', 'data-testid': 'history-panel' },
      h('h2', { id: 'history-title' }, 'History'),
      this.body,
    )
    this.render()
  }

  /** Shows the history of document `doc` (null: no note open). */
  show(doc: string | null): void {
    if (doc === this.doc) return
    this.doc = doc
    this.generation++
    this.points.clear()
    this.previews.clear()
    this.message = null
    this.render()
    if (this.open) void this.refresh()
  }

  /**
   * Reads the relay's restore points now (open or not), so the current moment stays on the
   * timeline after the next change. Never throws: a relay that does not answer is shown as such.
   */
  async remember(): Promise<void> {
    await this.refresh()
  }

  private toggle(): void {
    this.open = !this.open
    this.render()
    if (this.open) void this.refresh()
  }

  private async refresh(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const doc = this.doc
    const generation = this.generation
    if (doc !== null) {
      try {
        for (const p of await fetchRestorePoints(doc))
          if (generation === this.generation) this.points.set(keyOf(p), p)
        if (this.message?.error) this.message = null
      } catch (err) {
        if (generation === this.generation) this.message = { text: errorText(err), error: true }
      }
      this.render()
      await this.loadPreviews(doc, generation)
    }
    if (this.open && generation === this.generation)
      this.timer = setTimeout(() => void this.refresh(), POLL_MS)
  }

  private async loadPreviews(doc: string, generation: number): Promise<void> {
    for (const point of this.sorted().slice(0, PREVIEWS)) {
      const key = keyOf(point)
      if (this.previews.has(key)) continue
      const text = await fetchTextAt(doc, point).catch(() => null)
      if (generation !== this.generation) return
      this.previews.set(key, text)
      this.render()
    }
  }

  private async restore(point: RestorePoint): Promise<void> {
    const doc = this.doc
    if (doc === null) return
    this.busy = true
    this.message = null
    this.render()
    try {
      const copies = await revertTo(doc, point)
      this.message = {
        text: `Restored the version of ${timeOf(point.at)}: durable on ${copies} relay${copies === 1 ? '' : 's'}, on its way to every device.`,
        error: false,
      }
    } catch (err) {
      this.message = { text: errorText(err), error: true }
    } finally {
      this.busy = false
    }
    await this.refresh()
  }

  private sorted(): RestorePoint[] {
    return [...this.points.values()].sort((a, b) => b.at - a.at || a.relay - b.relay)
  }

  private render(): void {
    const toggle = h(
      'button',
      {
        class: 'wide',
        'data-testid': 'history-toggle',
        'aria-expanded': this.open ? 'true' : 'false',
        disabled: this.doc === null,
        onclick: () => this.toggle(),
      },
      this.open ? 'Hide the timeline' : 'Show this note’s timeline',
    )
    const message = this.message
      ? h(
          'p',
          { class: this.message.error ? 'error' : 'hint', role: 'status', 'data-testid': 'history-message' },
          this.message.text,
        )
      : null
    if (!this.open || this.doc === null) {
      replace(this.body, toggle, message)
      return
    }
    const points = this.sorted()
    const items = points.map((point, i) => {
      const preview = this.previews.get(keyOf(point))
      return h(
        'li',
        {
          class: `history-point ${i === 0 ? 'now' : ''}`,
          'data-testid': 'history-point',
          'data-at': point.at,
        },
        h('span', { class: 'history-dot', 'aria-hidden': 'true' }),
        h(
          'div',
          { class: 'history-main' },
          h(
            'div',
            { class: 'history-when' },
            h('time', { datetime: new Date(point.at).toISOString() }, timeOf(point.at)),
            h(
              'span',
              { class: 'history-bytes', title: 'Update bytes the relay received in that minute' },
              i === 0 ? 'current version' : `${point.bytes} B`,
            ),
          ),
          h(
            'p',
            {
              class: `history-preview ${preview?.trim() === '' ? 'is-empty' : ''}`,
              'data-testid': 'history-preview',
            },
            preview === undefined ? '…' : preview === null ? '(preview unavailable)' : previewOf(preview),
          ),
          i === 0
            ? null
            : h(
                'button',
                {
                  class: 'restore',
                  'data-testid': 'restore-version',
                  disabled: this.busy,
                  onclick: () => void this.restore(point),
                },
                'Restore this version',
              ),
        ),
      )
    })
    replace(
      this.body,
      toggle,
      message,
      points.length === 0
        ? h('p', { class: 'hint' }, 'Reading the relays’ history…')
        : h('ol', { class: 'history-timeline', 'data-testid': 'history-timeline' }, ...items),
    )
  }
}

function previewOf(text: string): string {
  if (text.trim() === '') return '(empty)'
  const flat = text.replace(/\s*\n\s*/g, ' · ').trim()
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS - 1)}…` : flat
}

function timeOf(at: number): string {
  const d = new Date(at)
  const today = new Date().toDateString() === d.toDateString()
  return today ? d.toLocaleTimeString() : d.toLocaleString()
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
