import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { CheckpointStore } from '../src/CheckpointStore.js'
import { openReplica } from '../src/index.js'
import { relayDocCount, relayMetric, seedDocs, storedText } from './sessionSupport.js'
import { Cleanup, tempDir } from './support.js'

// Catch-up costs what changed (docs/PROTOCOL.md section 7.1): a device that was offline while 10
// documents changed receives those 10, whatever the size of its replica. Before checkpoints, a
// reconnect cost a message per document held.
const CHANGED = 10
const cleanup = new Cleanup()
afterAll(async () => {
  await cleanup.run()
  await stopAllRelays()
})

const sessionBytesOut = (httpUrl: string) =>
  relayMetric(httpUrl, 'rhizome_session_bytes_total', { direction: 'out' })

/** Bytes the relay sends a device of `size` documents to catch up with CHANGED changes made while it was offline. */
async function catchUpBytes(size: number): Promise<{ bytes: number; ms: number }> {
  // Thousands of new documents a minute from one address: the new-document budget is off.
  const relay = await startRelay({ args: ['--max-new-docs-per-minute', '0'] })
  const storage = await tempDir(cleanup)
  const offline = await openReplica({ relays: [], storage })
  const names = await seedDocs(offline, 'ns/', size)
  await offline.close()

  // The device pushes its replica to the relay (a new relay lists nothing), then holds checkpoints
  // for it: the relay's change sequence and its own.
  const pushStarted = Date.now()
  let device = await openReplica({ relays: [relay.url], storage, replicate: ['ns/**'] })
  await eventually(async () => (await relayDocCount(relay.httpUrl)) === size, {
    timeout: 90_000,
    interval: 250,
    what: `${size} documents on the relay`,
  })
  await eventually(
    async () => {
      // A new reader each time: a CheckpointStore reads the record once.
      const cp = await new CheckpointStore(device.store, relay.url).load()
      return cp !== null && (cp.seq ?? 0) >= size && cp.localSeq >= size
    },
    { timeout: 30_000, what: 'checkpoints covering the push' },
  )
  const pushMs = Date.now() - pushStarted
  await device.close()

  // While it is offline, another device changes CHANGED documents.
  const other = await openReplica({ relays: [relay.url], storage: await tempDir(cleanup) })
  const changed = names.filter((_, i) => i % Math.floor(size / CHANGED) === 0).slice(0, CHANGED)
  for (const name of changed) {
    const handle = await other.open(name)
    await handle.whenSynced({ timeout: 15_000 })
    await eventually(() => handle.doc.getText('t').length > 0, { what: `${name} loaded on the other device` })
    handle.doc.getText('t').insert(0, 'changed: ')
    await handle.whenDurable(1, { timeout: 15_000 })
  }
  await other.close()

  const before = await sessionBytesOut(relay.httpUrl)
  const started = Date.now()
  device = await openReplica({ relays: [relay.url], storage, replicate: ['ns/**'] })
  cleanup.add(() => device.close())
  await device.whenReplicated({ timeout: 60_000 })
  for (const name of changed) expect(await storedText(device, name)).toBe(`changed: content of ${name}`)
  const ms = Date.now() - started
  await device.close()
  const bytes = (await sessionBytesOut(relay.httpUrl)) - before
  console.log(
    `replica of ${size}: pushed in ${pushMs} ms; catch-up of ${CHANGED} changes: ${bytes} bytes from the relay, ${ms} ms`,
  )
  await relay.stop()
  return { bytes, ms }
}

describe('catch-up after being offline', () => {
  it(`costs the ${CHANGED} documents that changed, the same for a replica of 1,000 and of 10,000`, async () => {
    const small = await catchUpBytes(1000)
    const large = await catchUpBytes(10_000)
    // Same within noise (a keepalive, a checkpoint message, one digit more per name): far from the
    // 10x a per-document catch-up would cost.
    expect(large.bytes).toBeLessThan(small.bytes * 1.5 + 1024)
    expect(small.bytes).toBeLessThan(large.bytes * 1.5 + 1024)
  }, 180_000)
})
