import { expect, it } from 'vitest'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G1 + G4 on the wire: every link (device->relay and relay->relay) flaps — reset, blackholed,
// torn in the middle of a frame — while some links are slow; nothing acknowledged is lost and all
// replicas converge once the links settle.
it('flapping-links: every link flaps (cut, blackhole, torn frames) while some are slow', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  const result = await runScenario('flapping-links', {}, async ({ cluster, nemesis, workload, rng }) => {
    workload.start()
    await during(1000)
    const links = [...cluster.links.values()]
    for (const proxy of rng.sample(links, 3)) nemesis.slow(proxy, rng.int(20, 120), rng.int(16_000, 128_000))
    nemesis.flap(links, 300, 1500)
    await during(10_000)
    await nemesis.stopFlapping()
    nemesis.healLinks()
    await during(1500)
  })
  expect(result.figures.lost).toBe(0)
  expect(result.figures.faults).toBeGreaterThan(20)
  expect(result.figures.acked1).toBeGreaterThan(50)
})
