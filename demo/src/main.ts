import { openReplica } from '@rhizome/client'
import { App } from './App.js'
import { h } from './dom.js'
import { claimStorageSlot, loadIdentity } from './identity.js'
import { NetworkGate } from './NetworkGate.js'
import { NoteList } from './NoteList.js'
import { NOTES_PATTERN } from './notes.js'
import { fetchSupervisorState } from './supervisorApi.js'
import './style.css'

/** The relays of `pnpm start` when the supervisor does not say otherwise. */
const DEFAULT_RELAYS = ['ws://127.0.0.1:4441', 'ws://127.0.0.1:4442', 'ws://127.0.0.1:4443']

async function main(): Promise<void> {
  const root = document.getElementById('app')!
  const slot = await claimStorageSlot()
  const identity = loadIdentity(slot)
  const supervisor = await fetchSupervisorState()
  const fromQuery = new URLSearchParams(location.search).get('relays')
  const relays = fromQuery ? fromQuery.split(',') : (supervisor?.relayUrls ?? DEFAULT_RELAYS)
  const gate = new NetworkGate()
  const replica = await openReplica({
    relays,
    // IndexedDB through `level` (browser-level): this device's full replica of every note.
    storage: `rhizome-demo-${slot}`,
    // Every note, open or not, over one session per relay (docs/PROTOCOL.md section 7.1).
    replicate: [NOTES_PATTERN],
    WebSocket: gate.WebSocket,
    // Quick reconnects, so a restarted relay or a restored network shows up within a second or two.
    backoff: { initialMs: 200, maxMs: 2000 },
  })
  const list = new NoteList(replica)
  const app = new App(root, replica, list, gate, identity, slot)
  await app.start(supervisor)
  // For tests and curious people: `rhizome.replica` in the devtools console.
  ;(window as unknown as { rhizome: unknown }).rhizome = { replica, list, gate }
}

main().catch((err: unknown) => {
  console.error(err)
  const root = document.getElementById('app')!
  root.replaceChildren(
    h(
      'div',
      { class: 'fatal', role: 'alert' },
      h('h1', {}, 'The demo could not start'),
      h('pre', {}, err instanceof Error ? err.message : String(err)),
    ),
  )
})
