import { CloseCode } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import type { Logger } from '../logger.js'
import type { DocRegistry } from './DocRegistry.js'

/** What the purge needs from the relay. */
export interface PurgerHost {
  readonly store: DocStore
  readonly docs: DocRegistry
  readonly log: Logger
  /** `--history-ms`: deleted documents and history older than this are purged. */
  readonly historyMs: number
}

/** How often the purge runs for a given `--history-ms`: a tenth of it, between 250 ms and one minute. */
export function purgeIntervalMs(historyMs: number): number {
  return Math.min(60_000, Math.max(250, Math.floor(historyMs / 10)))
}

/**
 * The relay's purge (docs/PROTOCOL.md section 9): periodically removes from disk the bytes of every
 * document deleted more than `--history-ms` ago (`store.purgeDocument`, which compacts the key
 * ranges so LevelDB's files lose them too) and drops history older than the window
 * (`store.purgeHistory`). The tombstone itself (a name and a time) is kept forever, so that a
 * device or a wiped relay that comes back after any time still learns of the deletion and never
 * brings the document back. One run at a time; a failure is logged and retried on the next run.
 */
export class Purger {
  #timer: ReturnType<typeof setInterval> | null = null
  #running: Promise<void> | null = null
  #stopped = false

  constructor(
    private readonly host: PurgerHost,
    readonly intervalMs: number = purgeIntervalMs(host.historyMs),
  ) {}

  /** Starts the periodic runs (the timer does not keep the process alive). */
  start(): void {
    this.#timer = setInterval(() => void this.run(), this.intervalMs)
    this.#timer.unref()
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }

  /** One purge run as of now (skipped while one is in progress); never rejects. */
  run(): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    this.#running ??= this.#run().finally(() => {
      this.#running = null
    })
    return this.#running
  }

  async #run(): Promise<void> {
    const { store, docs, log, historyMs } = this.host
    const now = Date.now()
    try {
      for (const { name, at } of store.tombstones()) {
        if (this.#stopped) return
        if (now - at < historyMs || !(await store.has(name))) continue
        // Nothing holds it any more (a delete evicted it); make sure before its bytes go.
        docs.evict(name, CloseCode.DELETED, 'document deleted')
        await store.purgeDocument(name)
        log.info({ doc: name, deletedAt: at }, 'purged a deleted document')
      }
      if (!this.#stopped) await store.purgeHistory(now)
    } catch (err) {
      if (!this.#stopped) log.warn({ err }, 'purge failed; retrying on the next run')
    }
  }
}
