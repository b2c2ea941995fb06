import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { openReplica } from '../src/index.js'
import { relayDocCount, seedDocs, storedText, tcpConnectionsTo } from './sessionSupport.js'
import { Cleanup, tempDir } from './support.js'

// A device is a replica of whole namespaces over ONE connection per relay (docs/PROTOCOL.md
// section 7.1). Before device sessions, 1,000 documents on 3 relays took 3,000 sockets.
const COUNT = 2000
const cleanup = new Cleanup()
let relays: RelayProcess[] = []
let names: string[] = []

afterAll(async () => {
  await cleanup.run()
  await stopAllRelays()
})

beforeAll(async () => {
  // Thousands of new documents a minute from one address: the new-document budget is off.
  const args = ['--max-new-docs-per-minute', '0']
  const a = await startRelay({ args })
  const b = await startRelay({ peers: [a.url], args })
  const c = await startRelay({ peers: [a.url, b.url], args })
  relays = [a, b, c]
  // The namespace is created fast by one device that pushes it through its session with relay a:
  // written offline into its store, then pushed whole (a new relay lists nothing).
  const writerStorage = await tempDir(cleanup)
  const offline = await openReplica({ relays: [], storage: writerStorage })
  names = await seedDocs(offline, 'ns/', COUNT)
  await offline.close()
  const started = Date.now()
  const writer = await openReplica({ relays: [a.url], storage: writerStorage, replicate: ['ns/**'] })
  cleanup.add(() => writer.close())
  for (const relay of relays) {
    await eventually(async () => (await relayDocCount(relay.httpUrl)) === COUNT, {
      timeout: 90_000,
      interval: 250,
      what: `${COUNT} documents on ${relay.url}`,
    })
  }
  console.log(`pushed ${COUNT} documents through one session and the mesh in ${Date.now() - started} ms`)
  await writer.close()
}, 120_000)

describe('a device replicating a namespace', () => {
  let storage = ''

  it(`replicates ${COUNT} documents from 3 relays without opening any, over one connection per relay`, async () => {
    storage = await tempDir(cleanup)
    const arrived: string[] = []
    const started = Date.now()
    const device = await openReplica({
      relays: relays.map((r) => r.url),
      storage,
      replicate: ['ns/**'],
      backoff: { initialMs: 50, maxMs: 400 },
    })
    cleanup.add(() => device.close())
    device.on('docs', (batch) => arrived.push(...batch))

    let peak = 0
    const ports = relays.map((r) => r.port)
    const sampler = setInterval(() => {
      for (const n of tcpConnectionsTo(ports).values()) peak = Math.max(peak, n)
    }, 20)
    try {
      await device.whenReplicated({ timeout: 90_000 })
    } finally {
      clearInterval(sampler)
    }
    const elapsed = Date.now() - started
    const now = tcpConnectionsTo(ports)
    console.log(
      `replicated ${COUNT} documents from 3 relays in ${elapsed} ms; connections per relay now ${[...now.values()]}, peak ${peak}`,
    )
    expect([...now.values()]).toEqual([1, 1, 1])
    expect(peak).toBeLessThanOrEqual(1)
    expect(device.openDocuments).toEqual([])
    expect(await device.names('ns/')).toEqual(names)
    expect(new Set(arrived).size).toBe(COUNT)
    // whenReplicated needs one relay; the other two finish their rounds (digests equal) soon after.
    await eventually(() => device.status.relays.every((r) => r.state === 'synced'), {
      timeout: 60_000,
      what: 'every relay synced',
    })
    expect([...tcpConnectionsTo(ports).values()]).toEqual([1, 1, 1])
    expect(new Set(device.status.relays.map((r) => r.id)).size).toBe(3)
    await device.close()
  }, 120_000)

  it('reopened with no relay, the device lists every document and each has its content', async () => {
    expect(storage).not.toBe('')
    const offline = await openReplica({ relays: [], storage })
    cleanup.add(() => offline.close())
    expect(await offline.names()).toEqual(names)
    expect(await offline.names('ns/0001')).toEqual(names.filter((n) => n.startsWith('ns/0001')))
    for (const name of names) expect(await storedText(offline, name)).toBe(`content of ${name}`)
    // Opening one is a local load: no relay, no round trip.
    const handle = await offline.open(names[123]!)
    expect(handle.doc.getText('t').toString()).toBe(`content of ${names[123]}`)
  }, 60_000)
})
