import type { DocStatus, RelayState } from '@rhizome/client'
import { h, replace } from './dom.js'
import type { SupervisedRelayInfo } from './supervisorApi.js'

/** What the panel shows about the current note. */
export interface ReplicasView {
  relays: readonly string[]
  /** The current note's status, or null when no note is open. */
  status: DocStatus | null
  /** Copies as displayed (drops are shown after a short delay, see App). */
  copies: number
  /** The current note's edits are all in this device's IndexedDB. */
  savedLocally: boolean
  /** Local edits of the current note no relay holds yet. */
  pending: number
  cutOff: boolean
  supervised: SupervisedRelayInfo[] | null
}

const STATE_LABEL: Record<RelayState, string> = {
  connecting: 'connecting',
  syncing: 'syncing',
  synced: 'synced',
  offline: 'offline',
  refused: 'refused',
  duplicate: 'same relay as another URL',
}

/**
 * Where the current note lives: each relay's connection state (from the client's status
 * events), its process and store (from the supervisor), and "saved on this device + k of N
 * relays" from the relays' durable ACKs.
 */
export class ReplicasPanel {
  readonly el: HTMLElement
  private readonly body: HTMLElement

  constructor() {
    this.body = h('div', { class: 'panel-body' })
    this.el = h(
      'section',
      { class: 'panel', 'aria-labelledby': 'replicas-title' },
      h('h2', { id: 'replicas-title' }, 'Replicas'),
      this.body,
    )
  }

  render(view: ReplicasView): void {
    const total = view.relays.length
    const k = view.copies
    const pips = h(
      'div',
      { class: 'pips', 'aria-hidden': 'true' },
      h('span', { class: `pip device ${view.savedLocally ? 'on' : ''}`, title: 'this device' }),
      ...view.relays.map((_, i) => h('span', { class: `pip ${i < k ? 'on' : ''}` })),
    )
    const durability = h(
      'div',
      {
        class: `durability ${k === 0 ? 'warn' : k === total ? 'ok' : 'partial'}`,
        'data-testid': 'durability',
      },
      pips,
      h(
        'p',
        {},
        view.status === null
          ? 'No note open'
          : h(
              'span',
              {},
              view.savedLocally ? 'Saved on this device' : 'Saving on this device…',
              ' + ',
              h('strong', { 'data-testid': 'copies' }, String(k)),
              ` of ${total} relays`,
            ),
      ),
    )
    const pending = h(
      'p',
      { class: `pending ${view.pending > 0 ? 'has-pending' : ''}`, 'data-testid': 'pending' },
      view.pending > 0
        ? `${view.pending} edit${view.pending === 1 ? '' : 's'} waiting for a relay` +
            (view.cutOff ? ' (this browser is offline)' : '')
        : 'No edits waiting',
    )
    const rows = view.relays.map((url, i) => {
      const n = i + 1
      const relay = view.status?.relays.find((r) => r.url === url)
      const state: RelayState = relay?.state ?? 'offline'
      const proc = view.supervised?.find((r) => r.url === url) ?? null
      return h(
        'li',
        { class: `relay state-${state}`, 'data-testid': `relay-${n}` },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        h(
          'div',
          { class: 'relay-main' },
          h(
            'div',
            { class: 'relay-name' },
            proc?.id ?? `relay ${n}`,
            h('code', {}, url.replace('ws://', '')),
          ),
          h(
            'div',
            { class: 'relay-meta' },
            proc === null
              ? null
              : h(
                  'span',
                  { 'data-testid': `relay-process-${n}` },
                  proc.state === 'running'
                    ? `running · ${proc.docs ?? '…'} docs${proc.recovering ? ' · refilling' : ''}`
                    : proc.state,
                ),
            relay !== undefined && relay.copies > 0 ? h('span', { class: 'holds' }, 'holds this note') : null,
          ),
        ),
        h('span', { class: `badge state-${state}`, 'data-testid': `relay-state-${n}` }, STATE_LABEL[state]),
      )
    })
    replace(this.body, durability, pending, h('ul', { class: 'relays' }, ...rows))
  }
}
