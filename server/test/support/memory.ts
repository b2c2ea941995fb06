import { readFile } from 'node:fs/promises'

/** Reads VmRSS of a process in bytes from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) * 1024
}

/** Samples a process's RSS every `intervalMs` until stopped; `peak` is the largest sample. */
export function sampleRss(pid: number, intervalMs = 50): { readonly peak: number; stop(): number } {
  let peak = 0
  const sample = () =>
    rssOf(pid).then(
      (rss) => {
        peak = Math.max(peak, rss)
      },
      () => {},
    )
  void sample()
  const timer = setInterval(sample, intervalMs)
  return {
    get peak() {
      return peak
    },
    stop() {
      clearInterval(timer)
      return peak
    },
  }
}
