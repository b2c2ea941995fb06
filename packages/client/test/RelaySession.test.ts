import { decodeSessionMessage, encodeSessionMessage, type SessionMessage } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { eventually } from '../../../test/support/poll.mjs'
import { openReplica } from '../src/index.js'
import { Cleanup, tempDir } from './support.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/**
 * A stand-in relay that welcomes every session, lists nothing, then goes silent: no keepalive, as
 * a relay behind a dead network path would look.
 */
async function silentRelay(): Promise<{
  url: string
  connections: () => number
  firstFrames: SessionMessage[]
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  let connections = 0
  const firstFrames: SessionMessage[] = []
  wss.on('connection', (ws) => {
    connections++
    ws.once('message', (data: Buffer) => {
      firstFrames.push(decodeSessionMessage(new Uint8Array(data)))
      const send = (m: SessionMessage) => ws.send(encodeSessionMessage(m))
      send({ type: 'welcome', version: 1, relayId: 'silent', storeId: 'store-1', seq: 0, resumed: false })
      send({ type: 'changes', round: 1, entries: [], last: true, seq: 0 })
    })
  })
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close(() => resolve())
      }),
  )
  const { port } = wss.address() as { port: number }
  return { url: `ws://127.0.0.1:${port}`, connections: () => connections, firstFrames }
}

describe('a relay session', () => {
  it('starts with hello and, once nothing arrived for deadAfterMs, treats the socket as dead and reconnects', async () => {
    const relay = await silentRelay()
    const replica = await openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      replicate: ['notes/**'],
      deadAfterMs: 300,
      backoff: { initialMs: 10, maxMs: 20 },
    })
    cleanup.add(() => replica.close())
    const errors: string[] = []
    replica.on('status', (s) => {
      if (s.relays[0]?.error) errors.push(s.relays[0].error.message)
    })
    await eventually(() => replica.status.relays[0]!.state === 'synced', {
      what: 'synced with the silent relay',
    })
    expect(relay.firstFrames[0]).toEqual({
      type: 'hello',
      version: 1,
      checkpoint: null,
      patterns: ['notes/**'],
    })
    await eventually(() => relay.connections() >= 2, { timeout: 5000, what: 'a reconnect after silence' })
    expect(errors.some((e) => /nothing received .* for 300 ms/.test(e))).toBe(true)
    // The second hello resumes from the checkpoint of the first session (an empty listing at seq 0).
    await eventually(() => relay.firstFrames.length >= 2, { what: 'second hello' })
    expect(relay.firstFrames[1]).toEqual({
      type: 'hello',
      version: 1,
      checkpoint: { storeId: 'store-1', seq: 0 },
      patterns: ['notes/**'],
    })
  })
})
