import { DEFAULT_BACKOFF } from '@rhizome/protocol'
import { expect, it } from 'vitest'
import { awaitConvergence } from './checker.js'
import { during, runScenario, SCENARIO_TIMEOUT_MS } from './scenario.js'

/** Kill-all rounds per run. */
const ROUNDS = Number(process.env.KILL_ALL_ROUNDS ?? 3)

/**
 * Bound on the time from every relay listening again to every device store matching every relay:
 * the cap of the client's default reconnect backoff (10 s, DEFAULT_BACKOFF of @rhizome/protocol;
 * full jitter, so the next attempt of a session comes at most that long after the relays are back)
 * plus 2 s for the resumed round and the mesh passing the devices' offline edits on.
 */
const MATCH_WITHIN_MS = Number(process.env.KILL_ALL_MATCH_MS ?? DEFAULT_BACKOFF.maxMs + 2000)

/** Optional cap of the devices' backoff (ms), to replay a slower reconnect schedule; default: the client's. */
const BACKOFF_MAX_MS = process.env.KILL_ALL_BACKOFF_MAX_MS

// Issue 5/6: after a round that kills every relay, devices took 20-60 s to match the relays again.
// Devices use the client's default reconnect schedule here (not the suite's quick one), as an app
// would; devices write while every relay is down. Measured per round: relays back -> every relay
// and every device store (open documents and replicated ones) hold the same digests.
it('kill-all recovery: devices match the relays within seconds of their return', {
  timeout: SCENARIO_TIMEOUT_MS,
}, async () => {
  const figures: number[] = []
  const result = await runScenario(
    'kill-all-recovery',
    {
      deviceBackoff: BACKOFF_MAX_MS
        ? { initialMs: DEFAULT_BACKOFF.initialMs, maxMs: Number(BACKOFF_MAX_MS) }
        : null,
    },
    async ({ cluster, nemesis, workload, rng }) => {
      for (let round = 0; round < ROUNDS; round++) {
        workload.start()
        await during(rng.int(1500, 3000))
        await Promise.all(cluster.relays.map((r) => nemesis.killRelay(r)))
        // Long enough for the devices' reconnect backoff to climb towards its cap.
        await during(rng.int(3000, 8000))
        workload.stop()
        await Promise.all(cluster.relays.map((r) => nemesis.startRelay(r)))
        const { diverged, ms } = await awaitConvergence(cluster, 60_000)
        cluster.history.log('info', `round ${round}: devices match the relays ${ms} ms after their return`)
        figures.push(diverged.length === 0 ? ms : Number.POSITIVE_INFINITY)
      }
    },
  )
  console.log(`[chaos] kill-all-recovery: relays back -> devices match, ms per round: ${figures.join(', ')}`)
  expect(result.figures.lost).toBe(0)
  for (const ms of figures) expect(ms).toBeLessThan(MATCH_WITHIN_MS)
})
