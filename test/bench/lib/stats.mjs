// Percentiles and process figures read from /proc (Linux), identical for every server.
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

/** The p-th percentile (0-100) of a list of numbers, nearest-rank; NaN for an empty list. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

/** p50/p99/max/count of a list of latencies. */
export function summarize(values) {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    // A loop, not Math.max(...values): spreading 100,000+ values overflows the call stack.
    max: values.length ? values.reduce((a, b) => Math.max(a, b), values[0]) : Number.NaN,
  }
}

const TICKS = 100 // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

/**
 * Resident set size, its peak (VmHWM), and its anonymous (heap, stacks) and file-backed (mapped
 * files such as LevelDB tables) parts, in bytes.
 */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') }
}

/** Samples a process' RSS every `ms` and its CPU over the window between start and stop. */
export function watchProcess(pid, ms = 100) {
  const t0 = performance.now()
  const cpu0 = cpuSeconds(pid)
  let maxRss = memory(pid).rss
  const timer = setInterval(() => {
    try {
      maxRss = Math.max(maxRss, memory(pid).rss)
    } catch {}
  }, ms)
  return {
    stop() {
      clearInterval(timer)
      const wall = (performance.now() - t0) / 1000
      const cpu = cpuSeconds(pid) - cpu0
      const mem = memory(pid)
      return { wallSeconds: wall, cpuSeconds: cpu, cpuPercent: (cpu / wall) * 100, maxRss, rss: mem.rss }
    },
  }
}

/** Event-loop delay of the load generator itself, to tell a slow server from a saturated client. */
export function watchOwnLoop() {
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  return () => {
    h.disable()
    return { p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
