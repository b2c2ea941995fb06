import type { Logger } from '../logger.js'
import { type ChangeHook, type ChangeOrigin, isFirstHand } from './changeOrigin.js'

/** What the notifier tells a webhook sender: a first-hand change to `doc` became durable at `at` (ms). */
export interface FirstHandChangeListener {
  changed(doc: string, at: number): void
}

/** What a {@link ChangeNotifier} is built from. */
export interface ChangeNotifierOptions {
  /** The app's hook (`startRelay({ onChange })`). */
  onChange?: ChangeHook
  /** Announces first-hand changes (the webhook), or none. */
  webhook?: FirstHandChangeListener | null
  /** Maps a Yjs transaction origin (a client connection, a peer link, the HTTP API) to its kind. */
  classify(origin: unknown): ChangeOrigin
  readonly log: Logger
}

interface Durable {
  doc: string
  update: Uint8Array
  origin: unknown
  at: number
}

/**
 * Hands durable changes to `onChange` and to the webhook, off the path that sends ACKs: durable
 * updates are queued and delivered on the next turn of the event loop, and nothing a listener does
 * (throw, reject, never resolve) reaches the relay.
 */
export class ChangeNotifier {
  #queue: Durable[] = []
  #stopped = false

  constructor(private readonly options: ChangeNotifierOptions) {}

  /** True when anyone listens; without listeners {@link durable} costs nothing. */
  get active(): boolean {
    return !this.#stopped && (this.options.onChange !== undefined || !!this.options.webhook)
  }

  /** `update` changed `doc` and is durable now (the registry's `onDurable`). Never throws. */
  durable(doc: string, update: Uint8Array, origin: unknown): void {
    if (!this.active) return
    this.#queue.push({ doc, update, origin, at: Date.now() })
    if (this.#queue.length === 1) setImmediate(this.#flush)
  }

  #flush = (): void => {
    const batch = this.#queue
    this.#queue = []
    const { onChange, webhook, log } = this.options
    for (const { doc, update, origin: raw, at } of batch) {
      const origin = this.options.classify(raw)
      if (webhook && isFirstHand(origin)) webhook.changed(doc, at)
      if (!onChange) continue
      try {
        const result = onChange({ doc, update, origin })
        if (result && typeof (result as Promise<void>).then === 'function') {
          ;(result as Promise<void>).then(undefined, (err: unknown) =>
            log.error({ err, doc }, 'onChange hook rejected'),
          )
        }
      } catch (err) {
        log.error({ err, doc }, 'onChange hook threw')
      }
    }
  }

  /** Delivers what is queued, then ignores later changes (relay shutdown). */
  stop(): void {
    if (this.#stopped) return
    this.#flush()
    this.#stopped = true
  }
}
