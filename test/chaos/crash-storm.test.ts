import { expect, it } from 'vitest'
import type { EditRecord } from './History.js'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

// G5 + G2: repeated kill -9 during writes. Every few hundred milliseconds one relay, one device,
// or — the instant a device sees an ACK — every relay and that device at once (its store wiped)
// is killed. An ACK must mean "fsynced": whatever a device was told is durable survives.
it('crash-storm: repeated kill -9 of relays and devices during writes loses nothing acknowledged', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  let killAllRounds = 0
  const result = await runScenario(
    'crash-storm',
    { editIntervalMs: 20, quietTimeoutMs: 150_000 },
    async ({ cluster, nemesis, workload, rng }) => {
      workload.start()
      for (let round = 0; round < 6; round++) {
        await during(rng.int(400, 1200))
        const kind = round % 3
        if (kind === 0) {
          const relay = rng.pick(cluster.relays.filter((r) => r.running))
          await nemesis.killRelay(relay)
          await during(rng.int(200, 1000))
          await nemesis.startRelay(relay)
        } else if (kind === 1) {
          const device = rng.pick(cluster.devices.filter((d) => d.writable))
          await nemesis.killDevice(device)
          await during(rng.int(200, 800))
          await nemesis.startDevice(device)
        } else {
          // A large edit, then small ones queued behind it in every relay's group commit; the
          // moment one of the small ones is acknowledged, kill everything that could hold it.
          const device = rng.pick(cluster.devices.filter((d) => d.writable))
          // Only this device's links stay up, so no other replica picks the edits up in passing.
          nemesis.cut([...cluster.links.values()].filter((p) => !p.name.startsWith(`${device.name}->`)))
          const ballast = workload.ballast(device, 1 << 20)
          const since = cluster.history.now()
          const acked = await new Promise<EditRecord | null>((resolve) => {
            const timer = setTimeout(() => {
              off()
              resolve(null)
            }, 10_000)
            const off = cluster.history.onAck((e) => {
              if (e.device !== device.name || e.issuedAt < since || e.token === ballast) return
              off()
              clearTimeout(timer)
              for (const r of cluster.relays) r.proc.child?.kill('SIGKILL')
              device.proc.child?.kill('SIGKILL')
              resolve(e)
            })
            for (let i = 0; i < 5; i++) workload.stepOn(device)
          })
          if (acked === null) {
            nemesis.healLinks()
            continue
          }
          killAllRounds++
          cluster.history.fault(
            `ACK of ${acked.token} (copies=${acked.copies}) seen: kill -9 every relay and ${device.name}`,
          )
          await Promise.all([...cluster.relays.map((r) => nemesis.killRelay(r)), nemesis.wipeDevice(device)])
          await during(rng.int(200, 800))
          await Promise.all(cluster.relays.map((r) => nemesis.startRelay(r)))
          nemesis.healLinks()
          await nemesis.startDevice(device)
        }
      }
    },
  )
  expect(killAllRounds).toBeGreaterThan(0)
  expect(result.figures.lost).toBe(0)
  expect(result.figures.acked1).toBeGreaterThan(50)
})
