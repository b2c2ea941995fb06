// Preloaded into every benchmarked server (`node --import`): writes the process' event-loop delay
// to BENCH_ELD_FILE every 100 ms, so the same measurement applies to Rhizome and to the peers
// without touching their code.
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const file = process.env.BENCH_ELD_FILE
if (file) {
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  const write = () => {
    try {
      const out = { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6 }
      writeFileSync(file, JSON.stringify(out))
    } catch {}
  }
  setInterval(write, 100).unref()
  process.on('exit', write)
}
