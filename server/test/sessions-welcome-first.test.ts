import { SESSION_PROTOCOL_VERSION } from '@rhizome/protocol'
import { afterAll, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'

afterAll(stopAllRelays)

// Regression: a session subscribed to its patterns before waiting for pending commits and sending
// `welcome`, so live updates published in between went out first. The client drops a session whose
// first frame is not `welcome` (PROTOCOL_MALFORMED) and retries with backoff; right after a relay
// restart, with the mesh replaying updates, devices failed handshake after handshake.
it('welcome is the first frame of a session even while its documents change (docs/PROTOCOL.md 7.2)', {
  timeout: 60_000,
}, async () => {
  const relay = await startRelay()
  const { client: writer } = await SessionClient.connect(relay.url, { patterns: ['race/**'] })
  const doc = new Y.Doc()
  let writing = true
  let sent = 0
  const pump = (async () => {
    while (writing) {
      for (let i = 0; i < 20; i++) {
        const before = Y.encodeStateVector(doc)
        doc.getText('t').insert(0, 'x')
        writer.send({
          type: 'sync',
          doc: 'race/doc',
          step: 'update',
          payload: Y.encodeStateAsUpdate(doc, before),
        })
        sent++
      }
      await new Promise((r) => setTimeout(r, 1))
    }
  })()
  const openers: SessionClient[] = []
  try {
    await eventually(() => sent > 200, { what: 'writer under way' })
    const firsts: string[] = []
    for (let i = 0; i < 30; i++) {
      const client = await SessionClient.open(relay.url)
      openers.push(client)
      client.send({
        type: 'hello',
        version: SESSION_PROTOCOL_VERSION,
        checkpoint: null,
        patterns: ['race/**'],
      })
      await eventually(() => client.messages.length > 0 || client.ended, { what: `session ${i} answered` })
      firsts.push(client.messages[0]?.type ?? `ended ${client.ended?.code}`)
      client.close()
    }
    expect(firsts.filter((t) => t !== 'welcome')).toEqual([])
  } finally {
    writing = false
    await pump
    writer.close()
    for (const c of openers) c.close()
  }
})
