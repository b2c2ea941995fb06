import { expect, it } from 'vitest'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G1: partitions of five relays — one alone, majority/minority, a ring of overlapping majorities,
// each by reset connections and by a silent blackhole — with writes on every side; after the heal
// every replica converges and nothing acknowledged is lost.
it('partition-heal: lone relay, majority/minority and majorities ring, cut and blackholed', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  const result = await runScenario(
    'partition-heal',
    { relays: 5, devices: 3, docs: 20 },
    async ({ nemesis, workload }) => {
      workload.start()
      await during(1500)
      const phases: Array<() => void> = [
        () => nemesis.partition([['r0'], ['r1', 'r2', 'r3', 'r4']], 'cut'),
        () =>
          nemesis.partition(
            [
              ['r0', 'r1'],
              ['r2', 'r3', 'r4'],
            ],
            'blackhole',
          ),
        () => nemesis.majoritiesRing('cut'),
        () => nemesis.majoritiesRing('blackhole'),
        () => nemesis.partition([['r3'], ['r0', 'r1', 'r2', 'r4']], 'blackhole'),
      ]
      for (const phase of phases) {
        phase()
        await during(2500)
        nemesis.healLinks()
        await during(1000)
      }
    },
  )
  expect(result.figures.lost).toBe(0)
  expect(result.figures.faults).toBe(5)
  expect(result.figures.acked3).toBeGreaterThan(20)
})
