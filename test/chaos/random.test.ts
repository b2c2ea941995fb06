import { expect, it } from 'vitest'
import type { Prng } from '../support/seed.mjs'
import type { Cluster } from './Cluster.js'
import { awaitConvergence } from './checker.js'
import type { Nemesis } from './Nemesis.js'
import { CHAOS_LONG, during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

/** One random fault; what it leaves broken is undone by the next `healAll`. */
async function randomFault(cluster: Cluster, nemesis: Nemesis, rng: Prng): Promise<void> {
  const relaysUp = cluster.relays.filter((r) => r.running && !r.proc.paused)
  const devicesUp = cluster.devices.filter((d) => d.writable)
  const links = [...cluster.links.values()]
  const relayNames = cluster.relays.map((r) => r.name)
  switch (rng.int(0, 11)) {
    case 0:
      if (relaysUp.length > 1) await nemesis.killRelay(rng.pick(relaysUp))
      break
    case 1:
      if (devicesUp.length > 1) await nemesis.killDevice(rng.pick(devicesUp))
      break
    case 2:
      if (relaysUp.length > 1) nemesis.pauseRelay(rng.pick(relaysUp))
      break
    case 3:
      if (devicesUp.length > 1) nemesis.pauseDevice(rng.pick(devicesUp))
      break
    case 4:
      if (relaysUp.length > 1) await nemesis.wipeRelay(rng.pick(relaysUp))
      break
    case 5:
      if (devicesUp.length > 1) await nemesis.wipeDevice(rng.pick(devicesUp))
      break
    case 6: {
      const alone = rng.pick(relayNames)
      nemesis.partition(
        [[alone], relayNames.filter((r) => r !== alone)],
        rng.chance(0.5) ? 'cut' : 'blackhole',
      )
      break
    }
    case 7: {
      const shuffled = rng.sample(relayNames, relayNames.length)
      const cut = rng.int(1, shuffled.length - 1)
      nemesis.partition([shuffled.slice(0, cut), shuffled.slice(cut)], rng.chance(0.5) ? 'cut' : 'blackhole')
      break
    }
    case 8:
      nemesis.flap(rng.sample(links, rng.int(1, 4)), 200, 1200)
      break
    case 9:
      nemesis.slow(rng.pick(links), rng.int(10, 200), rng.int(8_000, 256_000))
      break
    case 10:
      nemesis.tear(rng.pick(links))
      break
    default:
      if (relaysUp.length > 1) await nemesis.corruptRelay(rng.pick(relaysUp), rng.int(1, 6), rng.chance(0.5))
  }
}

// Everything at once, seeded: a mix of every fault while devices write. Default: three rounds of
// ~6 s of faults, each ending with a full heal. CHAOS_LONG=1: a 30-minute soak whose every round
// must also converge before the next.
it('random: a seeded mix of every fault', {
  timeout: CHAOS_LONG ? 40 * 60_000 : SCENARIO_TIMEOUT_MS,
}, async () => {
  const soakMs = CHAOS_LONG ? 30 * 60_000 : 18_000
  let rounds = 0
  const result = await runScenario('random', {}, async ({ cluster, nemesis, workload, rng }) => {
    const end = Date.now() + soakMs
    workload.start()
    while (Date.now() < end) {
      const roundEnd = Math.min(end, Date.now() + 6000)
      while (Date.now() < roundEnd) {
        await randomFault(cluster, nemesis, rng)
        await during(rng.int(300, 1500))
      }
      await nemesis.healAll()
      rounds++
      if (CHAOS_LONG) {
        workload.stop()
        const { diverged, ms } = await awaitConvergence(cluster, 90_000)
        cluster.history.log('info', `round ${rounds}: converged in ${ms} ms`)
        expect(diverged).toEqual([])
        workload.start()
      }
    }
  })
  expect(rounds).toBeGreaterThan(1)
  expect(result.figures.lost).toBe(0)
  expect(result.figures.faults).toBeGreaterThan(5)
})
