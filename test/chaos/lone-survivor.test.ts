import { expect, it } from 'vitest'
import { catalogOf } from '../support/catalog.mjs'
import { eventually } from '../support/poll.mjs'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G3 + G2: two of three relay disks are lost while writes go on. The wiped relays refill from the
// lone survivor through the mesh alone (devices are cut off from them until they are full).
it('lone-survivor: two of three relay disks lost, refilled from the survivor', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  const result = await runScenario('lone-survivor', {}, async ({ cluster, nemesis, workload }) => {
    const [survivor, a, b] = cluster.relays as [
      (typeof cluster.relays)[0],
      (typeof cluster.relays)[0],
      (typeof cluster.relays)[0],
    ]
    workload.start()
    await during(4000)
    await Promise.all([nemesis.wipeRelay(a), nemesis.wipeRelay(b)])
    await during(1500) // the survivor alone takes writes
    workload.stop()
    nemesis.cut(cluster.devices.flatMap((d) => [a, b].map((r) => cluster.links.get(`${d.name}->${r.name}`)!)))
    await Promise.all([nemesis.startRelay(a), nemesis.startRelay(b)])
    await eventually(
      async () => {
        const [s, ca, cb] = await Promise.all([survivor, a, b].map((r) => catalogOf(r.httpUrl)))
        return [ca!, cb!].every(
          (c) => c.size === s!.size && [...s!].every(([doc, digest]) => c.get(doc) === digest),
        )
      },
      { what: 'wiped relays refilled from the survivor', timeout: 60_000, interval: 100 },
    )
    cluster.history.log('info', `${a.name} and ${b.name} refilled from ${survivor.name}`)
    workload.start()
    await during(1500)
  })
  expect(result.figures.lost).toBe(0)
  expect(result.figures.acked1).toBeGreaterThan(50)
})
