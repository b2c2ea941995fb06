import type { DocStore } from '@rhizome/store'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { markRepairNeeded } from './repairMarker.js'

/** Records verified per step; a pause between steps keeps the scrub in the background. */
const STEP_RECORDS = 256
const PAUSE_MS = 5
/**
 * The first pass waits this long after start (or the interval, when shorter): a relay that
 * restarts serves and settles first, and start-up never pays for the scrub.
 */
const FIRST_PASS_DELAY_MS = 10 * 60 * 1000

/** What the scrubber reports to the relay. */
export interface ScrubberHost {
  readonly store: DocStore
  readonly log: Logger
  readonly metrics: RelayMetrics
  readonly dataDir: string
  /** A document failed its checksums: fetch it whole from a peer. */
  onCorrupt(name: string): void
}

/**
 * The background scrubber: walks every stored record in key order, a page at a time, verifying
 * each against its checksum (`DocStore.scrub`), first a while after the relay started serving and
 * then every `intervalMs`. A damaged document is quarantined (never served) and repaired from a peer.
 * Damage LevelDB itself reports (a broken table) cannot be repaired while the database is open:
 * the scrubber logs it and leaves a marker so that the next start repairs before serving.
 */
export class Scrubber {
  #timer: ReturnType<typeof setTimeout> | null = null
  #stopped = false
  #running: Promise<void> | null = null

  constructor(
    private readonly host: ScrubberHost,
    private readonly intervalMs: number,
  ) {}

  /** Schedules the first pass (in the background) and, after it, the next ones. */
  start(): void {
    this.#schedule(Math.min(this.intervalMs, FIRST_PASS_DELAY_MS))
  }

  /** Stops after the current step; resolves once no step runs. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#running
  }

  #schedule(delay: number): void {
    if (this.#stopped || this.intervalMs <= 0) return
    this.#timer = setTimeout(() => {
      this.#running = this.#pass().finally(() => {
        this.#running = null
        this.#schedule(this.intervalMs)
      })
    }, delay)
    this.#timer.unref()
  }

  /** One pass over every document. */
  async #pass(): Promise<void> {
    const { store, log, metrics } = this.host
    const started = performance.now()
    let after: string | undefined
    let scanned = 0
    const corrupt: string[] = []
    try {
      for (;;) {
        if (this.#stopped) return
        const page = await store.scrub({ after, limit: STEP_RECORDS })
        scanned += page.scanned
        metrics.scrubbedRecords.inc(page.scanned)
        for (const name of page.corrupt) {
          corrupt.push(name)
          metrics.scrubCorrupt.inc()
          log.warn({ doc: name }, 'scrub: document has corrupt records; repairing from peers')
          this.host.onCorrupt(name)
        }
        if (page.next === null) break
        after = page.next
        await new Promise((r) => setTimeout(r, PAUSE_MS))
      }
    } catch (err) {
      if (this.#stopped) return
      const code =
        (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code
      if (code === 'LEVEL_CORRUPTION' || code === 'LEVEL_IO_ERROR') {
        metrics.scrubCorrupt.inc()
        log.error(
          { err },
          'scrub: the database is damaged at the LevelDB level; it is repaired at the next start',
        )
        await markRepairNeeded(this.host.dataDir, String((err as Error).message)).catch(() => {})
        return
      }
      log.warn({ err }, 'scrub: pass stopped')
      return
    }
    metrics.scrubPasses.inc()
    log.info(
      { records: scanned, corrupt: corrupt.length, ms: Math.round(performance.now() - started) },
      corrupt.length === 0 ? 'scrub: pass finished, no damage found' : 'scrub: pass finished, damage found',
    )
  }
}
