import { encodeSyncUpdate } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { verifyWebhookSignature } from '../src/webhooks/webhookSignature.js'
import { httpRequest } from './support/httpRequest.js'
import { expectedSignature, WebhookReceiver } from './support/WebhookReceiver.js'
import { WireClient } from './support/WireClient.js'

const SECRET = 'webhook-secret-8d2c41f07b'
const receivers: WebhookReceiver[] = []
const sockets: WireClient[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close()
  await stopAllRelays()
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start()
  receivers.push(r)
  return r
}

function hookedRelay(url: string, extra: Parameters<typeof startRelay>[0] = {}): Promise<RelayProcess> {
  return startRelay({ ...extra, args: ['--webhook', url, '--webhook-secret', SECRET, ...(extra.args ?? [])] })
}

async function socket(relay: RelayProcess, name: string): Promise<WireClient> {
  const s = await WireClient.open(relay.url, name)
  sockets.push(s)
  return s
}

/** Sends one edit on `s` and resolves with its ACK, timed from the send. */
async function write(s: WireClient, text: string): Promise<{ ms: number }> {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  const before = s.acks.length
  const started = performance.now()
  s.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
  await eventually(() => s.acks.length > before, { what: `ACK of ${text}`, interval: 2 })
  return { ms: performance.now() - started }
}

async function metric(relay: RelayProcess, line: string): Promise<number> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  const found = text.split('\n').find((l) => l.startsWith(`${line} `))
  return found === undefined ? 0 : Number(found.split(' ')[1])
}

describe('webhooks', () => {
  it('POSTs {"doc","relay","at"} signed with X-Rhizome-Signature after client and HTTP changes', async () => {
    const hooks = await receiver()
    // From the environment this time: RHIZOME_WEBHOOK / RHIZOME_WEBHOOK_SECRET.
    const relay = await startRelay({ env: { RHIZOME_WEBHOOK: hooks.url, RHIZOME_WEBHOOK_SECRET: SECRET } })
    const s = await socket(relay, 'hooks/signed')
    const wrote = Date.now()
    await write(s, 'hello')
    const [hook] = await eventually(() => hooks.for('hooks/signed').length > 0 && hooks.for('hooks/signed'), {
      what: 'the webhook',
    })
    expect(Object.keys(hook!.json!).sort()).toEqual(['at', 'doc', 'relay'])
    expect(hook!.json).toEqual({ doc: 'hooks/signed', relay: relay.id, at: expect.any(Number) })
    expect(hook!.json!.at!).toBeGreaterThanOrEqual(wrote)
    expect(hook!.json!.at!).toBeLessThanOrEqual(hook!.at)
    expect(hook!.contentType).toBe('application/json')
    expect(hook!.signature).toBe(expectedSignature(hook!.body, SECRET))
    expect(verifyWebhookSignature(hook!.body, hook!.signature, SECRET)).toBe(true)
    expect(verifyWebhookSignature(hook!.body, hook!.signature, 'another-secret-of-16b')).toBe(false)
    expect(verifyWebhookSignature(`${hook!.body} `, hook!.signature, SECRET)).toBe(false)

    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'posted')
    const posted = await httpRequest(relay.port, 'POST', '/docs/hooks/posted', {
      body: Y.encodeStateAsUpdate(doc),
    })
    expect(posted.status).toBe(200)
    const [viaHttp] = await eventually(
      () => hooks.for('hooks/posted').length > 0 && hooks.for('hooks/posted'),
      {
        what: 'the webhook of a POST',
      },
    )
    expect(viaHttp!.signature).toBe(expectedSignature(viaHttp!.body, SECRET))
  })

  it('announces many changes within a second once, and a document at most once per second', async () => {
    const hooks = await receiver()
    const relay = await hookedRelay(hooks.url)
    const s = await socket(relay, 'hooks/burst')
    const started = Date.now()
    for (let i = 0; i < 30; i++) await write(s, `edit ${i}`)
    expect(Date.now() - started).toBeLessThan(900)
    // A marker changed after the burst is announced after the burst's window closed.
    await write(await socket(relay, 'hooks/marker'), 'marker')
    await eventually(() => hooks.for('hooks/marker').length === 1, { what: 'the marker webhook' })
    expect(hooks.for('hooks/burst')).toHaveLength(1)

    // The next change opens a new window: announced again, a second or more after the first.
    await write(s, 'later edit')
    const [first, second] = await eventually(
      () => (hooks.for('hooks/burst').length === 2 ? hooks.for('hooks/burst') : null),
      {
        what: 'the second webhook of the document',
      },
    )
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950)
    expect(second!.json!.at!).toBeGreaterThan(first!.json!.at!)
  })

  it('retries a delivery the receiver answered with 500, with the same signed body', async () => {
    const hooks = await receiver()
    hooks.respond = (_hook, index) => (index === 0 ? 500 : 200)
    const relay = await hookedRelay(hooks.url)
    await write(await socket(relay, 'hooks/retry'), 'retry me')
    const [failed, retried] = await eventually(
      () => (hooks.for('hooks/retry').length >= 2 ? hooks.for('hooks/retry') : null),
      {
        what: 'a retried webhook',
      },
    )
    expect(retried!.body).toBe(failed!.body)
    expect(retried!.signature).toBe(expectedSignature(retried!.body, SECRET))
    await eventually(
      async () => (await metric(relay, 'rhizome_webhook_deliveries_total{result="ok"}')) === 1,
      {
        what: 'the ok delivery counted',
      },
    )
    expect(await metric(relay, 'rhizome_webhook_deliveries_total{result="retry"}')).toBe(1)
    expect(hooks.for('hooks/retry')).toHaveLength(2)
  })

  it('announces only first-hand changes: none for what a peer replicated', async () => {
    const hooksA = await receiver()
    const hooksB = await receiver()
    const a = await hookedRelay(hooksA.url)
    const b = await hookedRelay(hooksB.url, { peers: [a.url] })
    await write(await socket(a, 'hooks/on-a'), 'written on a')
    await eventually(() => hooksA.for('hooks/on-a').length === 1, { what: "a's webhook" })
    await eventually(async () => (await httpRequest(b.port, 'GET', '/docs/hooks/on-a')).status === 200, {
      what: 'the document replicated to b',
    })
    // b changed the marker itself after it held the replicated document: had it announced the
    // replicated change, that announcement would have come first.
    await write(await socket(b, 'hooks/on-b'), 'written on b')
    await eventually(() => hooksB.for('hooks/on-b').length === 1, { what: "b's webhook" })
    expect(hooksB.for('hooks/on-a')).toEqual([])
    expect(hooksA.for('hooks/on-b')).toEqual([])
  })

  it('never delays an ACK while the receiver hangs or refuses connections', async () => {
    const hanging = await receiver()
    hanging.respond = () => 'hang'
    const relay = await hookedRelay(hanging.url)
    const timings: number[] = []
    for (let i = 0; i < 10; i++) timings.push((await write(await socket(relay, `hooks/hang-${i}`), 'x')).ms)
    // Every delivery slot is taken by a request the receiver never answers.
    await eventually(() => hanging.received.length >= 4, { what: 'deliveries stuck at the receiver' })
    for (let i = 0; i < 10; i++)
      timings.push((await write(await socket(relay, `hooks/hang-${i}`), `y${i}`)).ms)
    const s = await socket(relay, 'hooks/hang-many')
    for (let i = 0; i < 30; i++) timings.push((await write(s, `z${i}`)).ms)
    expect(Math.max(...timings)).toBeLessThan(500)

    const closed = await receiver()
    const deadUrl = closed.url
    await closed.close()
    const refused = await hookedRelay(deadUrl)
    const r = await socket(refused, 'hooks/refused')
    for (let i = 0; i < 10; i++) expect((await write(r, `r${i}`)).ms).toBeLessThan(500)
    await eventually(
      async () => (await metric(refused, 'rhizome_webhook_deliveries_total{result="retry"}')) >= 1,
      {
        what: 'a refused delivery retried',
      },
    )
    for (let i = 0; i < 10; i++) expect((await write(r, `after ${i}`)).ms).toBeLessThan(500)
  })
})
