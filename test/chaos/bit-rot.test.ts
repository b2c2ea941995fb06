import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../support/poll.mjs'
import { RawClient } from '../support/rawClient.js'
import { awaitConvergence } from './checker.js'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

/** True when every client clock of `served` is within `healthy`: the served state is a prefix, not garbage. */
function within(served: Y.Doc, healthy: Y.Doc): boolean {
  const have = Y.decodeStateVector(Y.encodeStateVector(healthy))
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(served))) {
    if (clock > (have.get(client) ?? 0)) return false
  }
  return true
}

// G5 + G4: a stopped relay's disk rots — bytes flipped in stored records, its newest LevelDB log
// torn in half. On restart it must detect the damage by checksum, never serve it, and repair it
// from a peer; the final check reads every document from the damaged relay.
async function bitRot(name: string, truncateTable: boolean): Promise<void> {
  let damaged: string[] = []
  let reads = 0
  let detected: string[] = []
  const result = await runScenario(name, {}, async ({ cluster, nemesis, workload, rng, setReference }) => {
    const victim = cluster.relays[1]!
    const healthy = cluster.relays[0]!
    setReference(victim.name)
    workload.start()
    await during(4000)
    workload.stop()
    const before = await awaitConvergence(cluster, 60_000)
    expect(before.diverged).toEqual([])
    damaged = await nemesis.corruptRelay(victim, 8, true, truncateTable)
    // Devices stay away until the damaged relay has been read directly.
    nemesis.cut(cluster.devices.map((d) => cluster.links.get(`${d.name}->${victim.name}`)!))
    await nemesis.startRelay(victim)
    // Whatever the damaged relay answers is a prefix of the healthy state, never garbage.
    for (const doc of rng.sample(cluster.docs, cluster.docs.length)) {
      let served: RawClient
      try {
        served = await RawClient.connect(victim.directUrl, doc)
      } catch {
        continue // refused while repairing: allowed
      }
      const reference = await RawClient.connect(healthy.directUrl, doc)
      reads++
      expect(
        within(served.doc, reference.doc),
        `${doc} served by ${victim.name} is not a prefix of ${healthy.name}`,
      ).toBe(true)
      served.close()
      reference.close()
    }
    // The relay found the damage itself (checksums) and repaired from a peer.
    await eventually(() => victim.proc.log.some((l) => /corrupt/.test(l)), {
      what: 'the damaged relay to report corrupt records',
      timeout: 30_000,
      interval: 100,
    })
    detected = victim.proc.log.filter((l) => /corrupt|repair/.test(l))
    nemesis.healLinks()
    workload.start()
    await during(2000)
  })
  expect(damaged.length).toBeGreaterThan(0)
  expect(reads).toBeGreaterThan(0)
  expect(detected.length).toBeGreaterThan(0)
  expect(result.figures.lost).toBe(0)
  console.log(
    `[chaos] ${name}: damaged ${damaged.length} documents; ${reads} direct reads of the damaged relay; it reported: ${detected.length} corrupt/repair log lines`,
  )
}

it(
  'bit-rot: corrupted records and a torn LevelDB log are repaired from a peer, never served',
  { timeout: SCENARIO_TIMEOUT_MS },
  () => bitRot('bit-rot', false),
)

// The same with the newest LevelDB table file (.ldb) cut in half as well. Regression: the relay used
// to exit at start with "IO error: ...ldb: Invalid argument" (LEVEL_IO_ERROR) instead of repairing
// the database and refilling from its peers.
it(
  'bit-rot-table: a truncated LevelDB table file is survived and refilled from a peer',
  { timeout: SCENARIO_TIMEOUT_MS },
  () => bitRot('bit-rot-table', true),
)
