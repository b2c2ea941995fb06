import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { Cleanup, device } from './support.js'

const cleanup = new Cleanup()
afterEach(async () => {
  vi.useRealTimers()
  await cleanup.run()
})
afterAll(() => stopAllRelays())

// Captured before any test fakes the timers: the guard below must run on the real clock.
const realSetTimeout = globalThis.setTimeout

describe('closing a document', () => {
  it('resolves on the sockets closing, not on a polling timer: close() completes with timers frozen', async () => {
    const [a, b] = [await startRelay(), await startRelay()]
    const replica = await device(cleanup, [a.url, b.url])
    const handle = await replica.open('close/doc')
    handle.doc.getText('t').insert(0, 'x')
    await handle.whenDurable(2, { timeout: 15_000 })

    // Freeze every timer: a close that sleeps between checks of its sockets would never return.
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
      shouldClearNativeTimers: true,
    })
    let guard: ReturnType<typeof setTimeout> | undefined
    const outcome = await Promise.race([
      handle.close().then(() => 'closed'),
      new Promise<string>((resolve) => {
        guard = realSetTimeout(() => resolve('still closing after 5 s'), 5000)
      }),
    ])
    clearTimeout(guard)
    vi.useRealTimers()
    expect(outcome).toBe('closed')
    expect(handle.status.relays.map((r) => r.state)).toEqual(['offline', 'offline'])
  })
  it('a relay that never answers the closing handshake holds close() up for about a second, not more', async () => {
    const relay = await startRelay()
    const replica = await device(cleanup, [relay.url])
    const handle = await replica.open('close/stopped')
    await handle.whenSynced({ timeout: 15_000 })
    relay.child!.kill('SIGSTOP')
    cleanup.add(async () => relay.child?.kill('SIGCONT'))
    const started = Date.now()
    await handle.close()
    expect(Date.now() - started).toBeLessThan(3000)
    expect(handle.status.relays[0]!.state).toBe('offline')
  })
})
