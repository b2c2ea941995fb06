import { expect, it } from 'vitest'
import { catalogOf } from '../support/catalog.mjs'
import { eventually } from '../support/poll.mjs'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G3 + G2: every relay killed and wiped at once; the devices' own replicas restore them, and a
// brand-new empty device then sees everything.
it('sidekick: all relays wiped at once, devices restore them, a new device sees everything', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  const result = await runScenario('sidekick', {}, async ({ cluster, nemesis, workload }) => {
    workload.start()
    await during(5000)
    await Promise.all(cluster.relays.map((r) => nemesis.wipeRelay(r)))
    // The devices keep writing offline while no relay exists.
    await during(2000)
    workload.stop()
    await Promise.all(cluster.relays.map((r) => nemesis.startRelay(r)))
    // Restored from the devices alone: every relay catalog fills up again.
    await eventually(
      async () => {
        const catalogs = await Promise.all(cluster.relays.map((r) => catalogOf(r.httpUrl)))
        return catalogs.every((c) => c.size === cluster.docs.length)
      },
      { what: 'relays refilled by the devices', timeout: 60_000, interval: 100 },
    )
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
