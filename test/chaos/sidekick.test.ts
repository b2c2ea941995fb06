import { expect, it } from 'vitest'
import { catalogOf } from '../support/catalog.mjs'
import { eventually } from '../support/poll.mjs'
import type { DocSummary } from './ChaosDevice.js'
import { neverOpenedBy } from './deviceDocs.js'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G3 + G2: every relay killed and wiped at once; the devices' own replicas restore them, and a
// brand-new empty device then sees everything. The refilling device is a whole replica
// (docs/PROTOCOL.md section 7.1): it restores documents it never opened, written by devices that
// are down while the relays refill.
it('sidekick: all relays wiped at once, a device restores them with documents it never opened', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  const result = await runScenario('sidekick', {}, async ({ cluster, nemesis, workload }) => {
    const [d0, refiller, d2] = cluster.devices as [
      (typeof cluster.devices)[0],
      (typeof cluster.devices)[0],
      (typeof cluster.devices)[0],
    ]
    // Written by d0 and d2 only; the refiller holds them through replication alone.
    const unopened = neverOpenedBy(1, cluster.docs)
    expect(unopened.length).toBeGreaterThan(0)
    for (const doc of unopened) expect(refiller.openDocs).not.toContain(doc)
    workload.start()
    await during(5000)
    workload.stop()
    let expected: Record<string, DocSummary> = {}
    await eventually(
      async () => {
        const [writer, other, replicated] = await Promise.all([d0.report(), d2.report(), refiller.report()])
        expected = writer
        return unopened.every(
          (doc) =>
            writer[doc] !== undefined &&
            writer[doc].digest === other[doc]?.digest &&
            writer[doc].digest === replicated[doc]?.digest &&
            writer[doc].content === replicated[doc]?.content,
        )
      },
      { what: 'unopened documents replicated to the refilling device', timeout: 60_000, interval: 200 },
    )
    cluster.history.log('info', `${unopened.length} documents ${refiller.name} never opened are in its store`)
    // Their writers go down: only the refiller can bring these documents back.
    await Promise.all([nemesis.killDevice(d0), nemesis.killDevice(d2)])
    await Promise.all(cluster.relays.map((r) => nemesis.wipeRelay(r)))
    // The refiller keeps writing offline while no relay exists.
    workload.start()
    await during(2000)
    workload.stop()
    await Promise.all(cluster.relays.map((r) => nemesis.startRelay(r)))
    // Restored from one device alone: every relay catalog fills up again, and the documents that
    // device never opened come back with the content their writers left.
    await eventually(
      async () => {
        const catalogs = await Promise.all(cluster.relays.map((r) => catalogOf(r.httpUrl)))
        return catalogs.every(
          (c) =>
            c.size === cluster.docs.length && unopened.every((doc) => c.get(doc) === expected[doc]!.digest),
        )
      },
      { what: `relays refilled by ${refiller.name} alone`, timeout: 60_000, interval: 100 },
    )
    cluster.history.log('info', `every relay refilled by ${refiller.name}`)
    await Promise.all([nemesis.startDevice(d0), nemesis.startDevice(d2)])
    workload.start()
    await during(1500)
    workload.stop()
    const fresh = await cluster.addDevice('fresh')
    cluster.history.log('info', `new empty device ${fresh.name} started`)
  })
  expect(result.figures.lost).toBe(0)
  expect(result.figures.acknowledged).toBeGreaterThan(50)
  expect(result.figures.docsConverged).toBe('24/24')
})
