import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../test/support/poll.mjs'
import { createLogger } from '../src/logger.js'
import { WebhookNotifier, type WebhookOptions } from '../src/webhooks/WebhookNotifier.js'
import { expectedSignature, WebhookReceiver } from './support/WebhookReceiver.js'

const SECRET = 'unit-webhook-secret-16b'
const receivers: WebhookReceiver[] = []
const notifiers: WebhookNotifier[] = []

afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.stop()))
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

async function setup(options: Partial<WebhookOptions> = {}) {
  const receiver = await WebhookReceiver.start()
  receivers.push(receiver)
  const registry = new Registry()
  const notifier = new WebhookNotifier({
    url: receiver.url,
    secret: SECRET,
    relayId: 'relay-unit',
    log: createLogger('silent', false),
    registry,
    debounceMs: 20,
    backoffBaseMs: 10,
    backoffMaxMs: 40,
    drainMs: 200,
    ...options,
  })
  notifiers.push(notifier)
  const value = async (name: string) => {
    const text = await registry.metrics()
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    return line === undefined ? 0 : Number(line.split(' ')[1])
  }
  return { receiver, notifier, value }
}

describe('WebhookNotifier', () => {
  it('drops the oldest waiting notification past its bound and counts it', async () => {
    const { receiver, notifier, value } = await setup({ concurrency: 1, maxQueue: 3 })
    receiver.respond = () => 'hang'
    notifier.changed('doc/0', 1)
    await eventually(() => receiver.received.length === 1, { what: 'the first delivery in flight' })
    for (let i = 1; i <= 10; i++) notifier.changed(`doc/${i}`, i)
    // 10 windows close into a queue of 3 while the one slot hangs: 7 dropped, the newest kept.
    await eventually(async () => (await value('rhizome_webhook_dropped_total')) === 7, { what: '7 dropped' })
    expect(await value('rhizome_webhook_queue')).toBe(3)
  })

  it('gives up after maxAttempts and counts the failure', async () => {
    const { receiver, notifier, value } = await setup({ maxAttempts: 3 })
    receiver.respond = () => 503
    notifier.changed('doc/down', 5)
    await eventually(async () => (await value('rhizome_webhook_deliveries_total{result="failed"}')) === 1, {
      what: 'the delivery given up',
    })
    expect(receiver.received).toHaveLength(3)
    expect(await value('rhizome_webhook_deliveries_total{result="retry"}')).toBe(2)
    for (const hook of receiver.received) expect(hook.signature).toBe(expectedSignature(hook.body, SECRET))
  })

  it('announces what is inside a debounce window when stopped', async () => {
    const { receiver, notifier } = await setup({ debounceMs: 60_000 })
    notifier.changed('doc/pending', 7)
    await notifier.stop()
    expect(receiver.received.map((h) => h.json)).toEqual([{ doc: 'doc/pending', relay: 'relay-unit', at: 7 }])
  })
})
