import { h, replace } from './dom.js'
import type { NetworkGate } from './NetworkGate.js'
import { type ChaosAction, runChaosAction, type SupervisorState } from './supervisorApi.js'

/**
 * Buttons that break things on purpose: kill a relay, wipe its disk, restart it, wipe all three
 * at once ("the 2009 outage"), and cut this browser off the network. Relay actions go to the
 * supervisor of `pnpm start`; the network cut is local to this page (see NetworkGate).
 */
export class ChaosPanel {
  readonly el: HTMLElement
  private readonly body: HTMLElement
  private busy = false
  private error: string | null = null
  private last: SupervisorState | null = null

  constructor(
    private readonly gate: NetworkGate,
    private readonly afterAction: () => Promise<void>,
    /** Chaos for the open note (see WipeNoteButton); works without the supervisor. */
    private readonly noteChaos: HTMLElement,
  ) {
    this.body = h('div', { class: 'panel-body' })
    this.el = h(
      'section',
      { class: 'panel chaos', 'aria-labelledby': 'chaos-title' },
      h('h2', { id: 'chaos-title' }, 'Chaos'),
      this.body,
    )
    gate.onChange(() => this.render(this.last))
  }

  render(state: SupervisorState | null): void {
    this.last = state
    const cut = this.gate.cut
    const network = h(
      'button',
      {
        class: `wide ${cut ? 'primary' : ''}`,
        'data-testid': 'cut-network',
        'aria-pressed': cut ? 'true' : 'false',
        onclick: () => this.gate.setCut(!cut),
      },
      cut ? 'Reconnect this browser' : 'Cut this browser off the network',
    )
    if (state === null) {
      replace(
        this.body,
        this.noteChaos,
        network,
        h(
          'p',
          { class: 'hint' },
          'Relay controls need the supervisor: run ',
          h('code', {}, 'pnpm start'),
          '.',
        ),
      )
      return
    }
    const rows = state.relays.map((r) => {
      const running = r.state === 'running'
      const down = r.state === 'stopped' || r.state === 'crashed'
      return h(
        'li',
        {},
        h('span', { class: 'chaos-name' }, r.id),
        h(
          'span',
          { class: 'chaos-buttons' },
          this.button(`kill-${r.n}`, 'Kill', { kind: 'kill', relay: r.n }, !running),
          this.button(`wipe-${r.n}`, 'Wipe disk', { kind: 'wipe', relay: r.n }, r.state === 'starting'),
          this.button(`restart-${r.n}`, down ? 'Start' : 'Restart', { kind: 'restart', relay: r.n }, false),
        ),
      )
    })
    const events = state.events
      .slice(-5)
      .reverse()
      .map((e) =>
        h(
          'li',
          {},
          h('time', {}, new Date(e.at).toLocaleTimeString()),
          ` ${e.relay ? `${e.relay} ` : ''}${e.text}`,
        ),
      )
    replace(
      this.body,
      h('ul', { class: 'chaos-relays' }, ...rows),
      h(
        'div',
        { class: 'chaos-global' },
        this.button(
          'outage',
          'The 2009 outage: wipe all three',
          { kind: 'outage' },
          false,
          'danger wide',
          'Kills every relay and deletes every relay disk, like the 2009 outage that lost a phone service’s user data',
        ),
        this.button(
          'restart-all',
          'Start all relays',
          { kind: 'restart-all' },
          state.relays.every((r) => r.state === 'running'),
          'wide',
        ),
        network,
        this.noteChaos,
      ),
      this.error ? h('p', { class: 'error', role: 'alert' }, this.error) : null,
      events.length > 0 ? h('ol', { class: 'events', 'aria-label': 'Recent events' }, ...events) : null,
    )
  }

  private button(
    testid: string,
    label: string,
    action: ChaosAction,
    disabled: boolean,
    cls = '',
    title?: string,
  ): HTMLButtonElement {
    return h(
      'button',
      {
        class: cls,
        'data-testid': testid,
        disabled: disabled || this.busy,
        title,
        onclick: () => void this.run(action),
      },
      label,
    )
  }

  private async run(action: ChaosAction): Promise<void> {
    this.busy = true
    this.error = null
    this.render(this.last)
    try {
      await runChaosAction(action)
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err)
    } finally {
      this.busy = false
      await this.afterAction()
    }
  }
}
