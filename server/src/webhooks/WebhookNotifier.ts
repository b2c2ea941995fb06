import { backoffDelay } from '@rhizome/protocol'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { FirstHandChangeListener } from '../changes/ChangeNotifier.js'
import type { Logger } from '../logger.js'
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER } from './webhookSignature.js'

/** How a {@link WebhookNotifier} delivers; everything but `url`, `secret` and `relayId` has a default. */
export interface WebhookOptions {
  /** `--webhook`: the receiver, an `http://` or `https://` URL. */
  url: string
  /** `--webhook-secret`: the HMAC-SHA256 key of the signature header. */
  secret: string
  /** This relay's id, the body's `relay`. */
  relayId: string
  log: Logger
  /** The relay's metrics registry; the notifier adds its own metrics to it. */
  registry?: Registry
  /** Changes to one document within this window are announced once, at its end. Default 1000. */
  debounceMs?: number
  /** Deliveries waiting (to be sent or retried) past this bound drop the oldest. Default 10000. */
  maxQueue?: number
  /** Tries of one delivery, the first included. Default 5. */
  maxAttempts?: number
  /** First retry within this many ms; doubling, capped at `backoffMaxMs`. Default 500. */
  backoffBaseMs?: number
  /** Default 30000. */
  backoffMaxMs?: number
  /** One try is abandoned (and retried) after this long without a response. Default 10000. */
  timeoutMs?: number
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number
  /** How long {@link WebhookNotifier.stop} tries to deliver what is still pending. Default 2000. */
  drainMs?: number
}

interface Delivery {
  doc: string
  body: string
  signature: string
  attempt: number
  /** Not before this time (ms since the epoch): a retry's backoff. */
  readyAt: number
}

/**
 * `--webhook` (docs/PROTOCOL.md section 10): after first-hand changes to a document are durable,
 * POSTs `{"doc","relay","at"}` to the receiver, at most once per second per document (the first
 * change opens a one-second window, later ones join it), signed with `X-Rhizome-Signature`. Failed
 * deliveries are retried with capped exponential backoff and full jitter; the queue is bounded
 * (oldest dropped, counted in `rhizome_webhook_dropped_total`). Nothing here is awaited by the
 * paths that commit or ACK, so a slow or dead receiver costs the relay only this queue.
 */
export class WebhookNotifier implements FirstHandChangeListener {
  readonly #windows = new Map<string, { timer: ReturnType<typeof setTimeout>; at: number }>()
  #queue: Delivery[] = []
  #inFlight = 0
  readonly #aborts = new Set<AbortController>()
  #wake: ReturnType<typeof setTimeout> | null = null
  /** Shutting down: pending windows were flushed, failures are not retried. */
  #draining = false
  #stopped = false
  #idle: (() => void) | null = null
  readonly #o: Required<Omit<WebhookOptions, 'registry'>>
  readonly #deliveries: Counter<'result'>
  readonly #dropped: Counter
  readonly #queued: Gauge

  constructor(options: WebhookOptions) {
    this.#o = {
      debounceMs: 1000,
      maxQueue: 10_000,
      maxAttempts: 5,
      backoffBaseMs: 500,
      backoffMaxMs: 30_000,
      timeoutMs: 10_000,
      concurrency: 4,
      drainMs: 2000,
      ...options,
    }
    const registers = options.registry ? [options.registry] : []
    this.#deliveries = new Counter({
      name: 'rhizome_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by result (ok, retry, failed: given up)',
      labelNames: ['result'],
      registers,
    })
    this.#dropped = new Counter({
      name: 'rhizome_webhook_dropped_total',
      help: 'Webhook notifications dropped because the delivery queue was full',
      registers,
    })
    this.#queued = new Gauge({
      name: 'rhizome_webhook_queue',
      help: 'Webhook notifications waiting to be delivered or retried',
      registers,
    })
  }

  /** A first-hand change to `doc` became durable at `at` (ms since the epoch). */
  changed(doc: string, at: number): void {
    if (this.#draining) return
    const window = this.#windows.get(doc)
    if (window) {
      window.at = Math.max(window.at, at)
      return
    }
    const timer = setTimeout(() => {
      const closing = this.#windows.get(doc)
      this.#windows.delete(doc)
      if (closing) this.#enqueue(doc, closing.at)
    }, this.#o.debounceMs)
    timer.unref()
    this.#windows.set(doc, { timer, at })
  }

  #enqueue(doc: string, at: number): void {
    // A newer announcement covers an older one of the same document still waiting for a retry.
    this.#queue = this.#queue.filter((d) => d.doc !== doc)
    const body = JSON.stringify({ doc, relay: this.#o.relayId, at })
    this.#push({ doc, body, signature: signWebhookBody(body, this.#o.secret), attempt: 0, readyAt: 0 })
  }

  #push(delivery: Delivery): void {
    while (this.#queue.length >= this.#o.maxQueue) {
      this.#queue.shift()
      this.#dropped.inc()
    }
    this.#queue.push(delivery)
    this.#pump()
  }

  #pump = (): void => {
    if (this.#wake) clearTimeout(this.#wake)
    this.#wake = null
    if (this.#stopped) return
    const now = Date.now()
    while (this.#inFlight < this.#o.concurrency) {
      const i = this.#queue.findIndex((d) => d.readyAt <= now || this.#draining)
      if (i < 0) break
      const [delivery] = this.#queue.splice(i, 1)
      void this.#send(delivery!)
    }
    this.#queued.set(this.#queue.length)
    if (this.#queue.length > 0 && this.#inFlight < this.#o.concurrency) {
      const next = Math.min(...this.#queue.map((d) => d.readyAt))
      this.#wake = setTimeout(this.#pump, Math.max(0, next - now))
      this.#wake.unref()
    }
    if (this.#queue.length === 0 && this.#inFlight === 0) this.#idle?.()
  }

  async #send(delivery: Delivery): Promise<void> {
    this.#inFlight++
    const abort = new AbortController()
    this.#aborts.add(abort)
    const timer = setTimeout(() => abort.abort(), this.#o.timeoutMs)
    timer.unref()
    let outcome: string
    try {
      const res = await fetch(this.#o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: delivery.signature },
        body: delivery.body,
        redirect: 'manual',
        signal: abort.signal,
      })
      await res.body?.cancel().catch(() => {})
      outcome = res.status >= 200 && res.status < 300 ? 'ok' : `HTTP ${res.status}`
    } catch (err) {
      outcome = abort.signal.aborted
        ? 'timeout'
        : ((err as { cause?: { code?: string } }).cause?.code ?? 'error')
    } finally {
      clearTimeout(timer)
      this.#aborts.delete(abort)
      this.#inFlight--
    }
    if (outcome === 'ok') {
      this.#deliveries.inc({ result: 'ok' })
    } else if (++delivery.attempt < this.#o.maxAttempts && !this.#draining) {
      this.#deliveries.inc({ result: 'retry' })
      this.#o.log.debug(
        { doc: delivery.doc, outcome, attempt: delivery.attempt },
        'webhook delivery failed; retrying',
      )
      // A newer announcement of the document, queued meanwhile, makes this one redundant.
      if (!this.#queue.some((d) => d.doc === delivery.doc)) {
        const delay = backoffDelay(delivery.attempt - 1, this.#o.backoffBaseMs, this.#o.backoffMaxMs)
        delivery.readyAt = Date.now() + delay
        this.#push(delivery)
        return
      }
    } else {
      this.#deliveries.inc({ result: 'failed' })
      this.#o.log.warn(
        { doc: delivery.doc, outcome, attempts: delivery.attempt, receiver: new URL(this.#o.url).origin },
        'webhook delivery failed; giving up',
      )
    }
    this.#pump()
  }

  /**
   * Stops: announces what is still inside a debounce window, gives pending deliveries one try
   * within `drainMs`, then abandons the rest. Resolves when done; never rejects.
   */
  async stop(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    for (const [doc, window] of this.#windows) {
      clearTimeout(window.timer)
      this.#enqueue(doc, window.at)
    }
    this.#windows.clear()
    this.#pump()
    if (this.#queue.length > 0 || this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(resolve, this.#o.drainMs)
        deadline.unref()
        this.#idle = () => {
          clearTimeout(deadline)
          resolve()
        }
      })
    }
    this.#stopped = true
    if (this.#wake) clearTimeout(this.#wake)
    for (const abort of this.#aborts) abort.abort()
    this.#queue = []
    this.#queued.set(0)
  }
}
