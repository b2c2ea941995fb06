import { afterAll, describe, expect, it } from 'vitest'
import { eventually, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { SessionClient } from '../../test/support/sessionClient.js'
import { WireClient } from './support/WireClient.js'

afterAll(stopAllRelays)

describe('idle sockets stay up (docs/PROTOCOL.md section 2)', () => {
  it('sends keepalive on an idle session and an empty AWARENESS update on an idle stock socket', {
    timeout: 40_000,
  }, async () => {
    const relay = await startRelay()
    const { client: session } = await SessionClient.connect(relay.url, { patterns: ['**'] })
    // Without rhizome=1, as a stock WebsocketProvider connects.
    const socket = await WireClient.open(relay.url, 'idle/doc', { rhizome: false })
    let emptyAt = 0
    socket.ws.on('message', (data: Buffer) => {
      if (emptyAt === 0 && data.length === 3 && data[0] === 1 && data[1] === 1 && data[2] === 0)
        emptyAt = Date.now()
    })
    try {
      await session.round(1)
      await socket.waitFor('sync-step1')
      const sessionQuiet = session.arrivals.at(-1)!
      const socketQuiet = Date.now()

      const keepalive = await session.waitFor('keepalive', () => true, { timeout: 25_000 })
      const gap = session.arrivals[session.messages.indexOf(keepalive)]! - sessionQuiet
      expect(gap).toBeGreaterThanOrEqual(14_500)
      expect(gap).toBeLessThanOrEqual(20_000)

      await eventually(() => emptyAt, { timeout: 25_000, what: 'empty awareness update' })
      const socketGap = emptyAt - socketQuiet
      expect(socketGap).toBeGreaterThanOrEqual(14_000)
      expect(socketGap).toBeLessThanOrEqual(20_000)
      expect(session.ended).toBeNull()
      expect(socket.ended).toBeNull()
    } finally {
      session.close()
      socket.close()
    }
  })
})
