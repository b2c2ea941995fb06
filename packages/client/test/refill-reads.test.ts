import { MemoryLevel } from 'memory-level'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { openReplica } from '../src/index.js'
import { relayDocCount, seedDocs, storedText } from './sessionSupport.js'
import { Cleanup, tempDir } from './support.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => stopAllRelays())

describe('a device refilling an empty relay', () => {
  it('reads its store in one scan, not one iterator per pushed document (G3 at store speed)', async () => {
    const count = 300
    const db = new MemoryLevel()
    const seeding = await openReplica({ relays: [], storage: db })
    const names = await seedDocs(seeding, 'scan/', count)
    await seeding.close()

    // Every iterator the device opens on its database from now on.
    let iterators = 0
    const iterator = db.iterator.bind(db)
    db.iterator = ((...args: Parameters<typeof iterator>) => {
      iterators++
      return iterator(...args)
    }) as typeof db.iterator

    const relay = await startRelay()
    const replica = await openReplica({ relays: [relay.url], storage: db, replicate: ['scan/**'] })
    cleanup.add(() => replica.close())
    await eventually(async () => (await relayDocCount(relay.httpUrl)) === count, {
      what: `${count} documents pushed`,
    })
    // Before: one iterator per document read for its push (300 and more). Now: the scan, the
    // catalog pages and the change feed.
    expect(iterators).toBeLessThan(30)

    // What the relay got is the whole document.
    const fresh = await openReplica({
      relays: [relay.url],
      storage: await tempDir(cleanup),
      replicate: ['scan/**'],
    })
    cleanup.add(() => fresh.close())
    await fresh.whenReplicated({ timeout: 15_000 })
    expect(await fresh.names('scan/')).toEqual(names)
    for (const name of [names[0]!, names[count - 1]!])
      expect(await storedText(fresh, name)).toBe(`content of ${name}`)
  })
})
