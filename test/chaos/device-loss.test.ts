import { expect, it } from 'vitest'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G3 (device side) + G2: a device's storage is wiped; it comes back empty and refills from the
// relays; every edit it had seen acknowledged by at least one relay survives.
it('device-loss: a wiped device refills from the relays and its acknowledged edits survive', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  let victimAcked = 0
  const result = await runScenario('device-loss', {}, async ({ cluster, nemesis, workload }) => {
    const victim = cluster.devices[0]!
    workload.start()
    await during(4000)
    victimAcked = [...cluster.history.edits.values()].filter(
      (e) => e.device === victim.name && e.copies >= 1,
    ).length
    await nemesis.wipeDevice(victim)
    await during(2500)
    await nemesis.startDevice(victim)
    await during(2000)
  })
  expect(victimAcked).toBeGreaterThan(10)
  expect(result.figures.lost).toBe(0)
})
