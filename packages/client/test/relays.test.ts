import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { Cleanup, device, tempDir } from './support.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => stopAllRelays())

const text = (h: { doc: { getText(name: string): { toString(): string } } }) => h.doc.getText('t').toString()

describe('client against real relays', () => {
  it('a device with empty storage gets everything from a single relay, and keeps it locally', async () => {
    const relay = await startRelay()
    const writer = await (await device(cleanup, [relay.url])).open('notes/big')
    const items = Array.from({ length: 2000 }, (_, i) => `item-${i}`)
    writer.doc.getArray<string>('xs').push(items)
    writer.doc.getText('t').insert(0, 'hello from the writer')
    await writer.whenDurable(1, { timeout: 15_000 })
    expect(writer.copies).toBeGreaterThanOrEqual(1)

    const storage = await tempDir(cleanup)
    const fresh = await device(cleanup, [relay.url], storage)
    const reader = await fresh.open('notes/big')
    await reader.whenSynced({ timeout: 15_000 })
    await eventually(() => reader.doc.getArray('xs').length === items.length, { what: 'all items' })
    expect(reader.doc.getArray('xs').toArray()).toEqual(items)
    expect(text(reader)).toBe('hello from the writer')
    // What the reader downloaded is durable on the relay: after its probe it counts the relay.
    await reader.whenDurable(1, { timeout: 15_000 })
    await fresh.close()

    const offline = await device(cleanup, [], storage)
    expect((await offline.open('notes/big')).doc.getArray('xs').length).toBe(items.length)
  })

  it('offline edits survive a restart and reach the relays when they come back; whenDurable(2) waits for that', async () => {
    const a = await startRelay()
    const b = await startRelay()
    await a.stop()
    await b.stop()
    const storage = await tempDir(cleanup)

    const first = await device(cleanup, [a.url, b.url], storage)
    const h1 = await first.open('offline/doc')
    h1.doc.getText('t').insert(0, 'typed with every relay down')
    await h1.whenDurable(0)
    const early = await h1.whenDurable(2, { timeout: 300 }).catch((e: unknown) => e)
    expect(isRhizomeError(early, ErrorCode.TIMEOUT)).toBe(true)
    expect(h1.status.relays.map((r) => r.state)).not.toContain('synced')
    await first.close()

    // "Process restart": a new replica over the same storage, relays still down.
    const second = await device(cleanup, [a.url, b.url], storage)
    const h2 = await second.open('offline/doc')
    expect(text(h2)).toBe('typed with every relay down')
    const stillEarly = await h2.whenDurable(1, { timeout: 300 }).catch((e: unknown) => e)
    expect(isRhizomeError(stillEarly, ErrorCode.TIMEOUT)).toBe(true)
    expect(h2.copies).toBe(0)

    const durable = h2.whenDurable(2, { timeout: 20_000 })
    await a.start()
    await b.start()
    await durable
    expect(h2.copies).toBe(2)
    expect(h2.status.relays.map((r) => r.copies)).toEqual([1, 1])

    // Each relay, on its own, now serves the edits made by the earlier process.
    for (const relay of [a, b]) {
      const other = await (await device(cleanup, [relay.url])).open('offline/doc')
      await eventually(() => text(other) === 'typed with every relay down', {
        what: `content on ${relay.url}`,
      })
    }
  })

  for (const mesh of [true, false]) {
    it(`two relays ${mesh ? 'in a mesh' : 'without a mesh'}: kill -9 one, edits go on, copies 2 -> 1 -> 2`, async () => {
      const a = await startRelay()
      const b = await startRelay(mesh ? { peers: [a.url] } : {})
      const d1 = await (await device(cleanup, [a.url, b.url])).open('shared/doc')
      const d2 = await (await device(cleanup, [a.url, b.url])).open('shared/doc')
      const copies: number[] = []
      const statesOfA: string[] = []
      d1.on('status', (s) => {
        copies.push(s.copies)
        if (statesOfA.at(-1) !== s.relays[0]!.state) statesOfA.push(s.relays[0]!.state)
      })

      d1.doc.getText('t').insert(0, 'one ')
      await d1.whenDurable(2, { timeout: 15_000 })
      expect(d1.copies).toBe(2)
      await eventually(() => text(d2) === 'one ', { what: 'd2 got the first edit' })

      await a.kill()
      await eventually(() => d1.status.relays[0]!.state === 'offline', { what: 'relay a offline' })
      d1.doc.getText('t').insert(4, 'two ')
      await d1.whenDurable(1, { timeout: 15_000 })
      expect(d1.copies).toBe(1)
      expect(d1.status.relays[1]!.state).toBe('synced')
      const notTwo = await d1.whenDurable(2, { timeout: 300 }).catch((e: unknown) => e)
      expect(isRhizomeError(notTwo, ErrorCode.TIMEOUT)).toBe(true)
      await eventually(() => text(d2) === 'one two ', { what: 'd2 got the edit made while a was dead' })
      // The surviving relay has it on its own: a third device that only knows b.
      const d3 = await (await device(cleanup, [b.url])).open('shared/doc')
      await eventually(() => text(d3) === 'one two ', { what: 'b serves the edit' })

      await a.start()
      await eventually(() => d1.copies === 2, { timeout: 20_000, what: 'copies back to 2' })
      await d1.whenDurable(2, { timeout: 1000 })
      expect(copies).toContain(1)
      expect(copies.at(-1)).toBe(2)
      // Relay a went synced -> offline (killed) -> connecting/offline while down -> syncing -> synced.
      const afterKill = statesOfA.slice(statesOfA.indexOf('offline'))
      expect(afterKill).toContain('connecting')
      expect(afterKill.slice(-2)).toEqual(['syncing', 'synced'])
      expect(d1.status.relays[0]!.error).toBeUndefined()
      const d4 = await (await device(cleanup, [a.url])).open('shared/doc')
      await eventually(() => text(d4) === 'one two ', { what: 'restarted a holds everything' })
    })
  }

  it("the device relays between relays that do not mesh: relay A's updates reach relay B", async () => {
    const a = await startRelay()
    const b = await startRelay()
    const onA = await (await device(cleanup, [a.url])).open('bridge')
    const bridge = await (await device(cleanup, [a.url, b.url])).open('bridge')
    const onB = await (await device(cleanup, [b.url])).open('bridge')
    await Promise.all([onA.whenSynced(), bridge.whenSynced(), onB.whenSynced()])
    onA.doc.getMap('m').set('from', 'a')
    await eventually(() => onB.doc.getMap('m').get('from') === 'a', { what: 'A -> device -> B' })
    onB.doc.getMap('m').set('back', 'b')
    await eventually(() => onA.doc.getMap('m').get('back') === 'b', { what: 'B -> device -> A' })
    // The bridge counts both relays for what it got from each (its probe frames are acknowledged).
    await bridge.whenDurable(2, { timeout: 15_000 })
  })

  it('awareness is shared through every relay once, and survives losing one relay', async () => {
    const a = await startRelay()
    const b = await startRelay()
    const d1 = await (await device(cleanup, [a.url, b.url])).open('presence')
    const d2 = await (await device(cleanup, [a.url, b.url])).open('presence')
    d1.awareness.setLocalStateField('user', 'one')
    d2.awareness.setLocalStateField('user', 'two')
    const users = (h: typeof d1) => [...h.awareness.getStates().values()].map((s) => s.user).sort()
    await eventually(() => users(d2).join() === 'one,two', { what: 'd2 sees d1' })
    await eventually(() => users(d1).join() === 'one,two', { what: 'd1 sees d2' })
    expect(d1.awareness.getStates().size).toBe(2)

    await a.kill()
    await eventually(() => d2.status.relays[0]!.state === 'offline', { what: 'a offline for d2' })
    expect(users(d2)).toEqual(['one', 'two']) // d1 is still present through b
    d1.awareness.setLocalStateField('user', 'one again')
    await eventually(() => users(d2).join() === 'one again,two', { what: 'update through b' })

    await d1.close()
    await eventually(() => users(d2).join() === 'two', { what: 'd1 left' })
  })
})
