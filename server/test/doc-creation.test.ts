import { encodeSyncStep1, encodeSyncUpdate } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { signToken } from './support/tokens.js'
import { WireClient, type WireOptions } from './support/WireClient.js'

// Finding 9 (SECURITY.md): one client created 50,000 documents in 20 s, and every one stayed loaded
// for the 30 s idle window even though nothing was ever written to it.

afterEach(stopAllRelays)

/** Opens a socket and resolves 'open' once the relay greets it, or with the code it was closed with. */
async function tryOpen(
  relay: RelayProcess,
  name: string,
  options: WireOptions = {},
): Promise<'open' | number> {
  const client = new WireClient(relay.url, name, options)
  try {
    return await eventually<'open' | number | null>(
      () => {
        if (client.ended) return client.ended.code ?? -1
        return client.messages.some((m) => m?.type === 'sync-step1') ? 'open' : null
      },
      { what: `${name} opened or refused`, interval: 5 },
    )
  } finally {
    client.close()
  }
}

/** Writes one small edit to `name` and waits for its ACK. */
async function write(relay: RelayProcess, name: string, options: WireOptions = {}): Promise<void> {
  const client = await WireClient.open(relay.url, name, options)
  const doc = new Y.Doc()
  doc.getText('t').insert(0, `content of ${name}`)
  client.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
  await client.waitFor('ack')
  client.close()
}

/** Opens up to `count` new documents in a row; returns how many opened and the codes of the rest. */
async function createMany(relay: RelayProcess, prefix: string, count: number, options: WireOptions = {}) {
  let opened = 0
  const refused: number[] = []
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const result = await tryOpen(relay, `${prefix}/${i}`, options)
    if (result === 'open') opened++
    else refused.push(result)
  }
  return { opened, refused, ms: performance.now() - start }
}

async function docsActive(relay: RelayProcess): Promise<number> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  return Number(/^rhizome_docs_active (\d+)/m.exec(text)?.[1])
}

const from = (localAddress: string): WireOptions => ({ ws: { localAddress } })

describe('new-document budget', () => {
  it('closes an anonymous client creating documents fast with 4429 past --max-new-docs-per-minute; its existing documents and other addresses are unaffected', async () => {
    const relay = await startRelay({ args: ['--max-new-docs-per-minute', '20'] })
    await write(relay, 'kept/doc', from('127.0.0.1'))

    // 20 at once, then one every 3 s while the loop runs.
    const fast = await createMany(relay, 'spam', 30, from('127.0.0.2'))
    expect(fast.opened).toBeGreaterThanOrEqual(20)
    expect(fast.opened).toBeLessThanOrEqual(20 + Math.ceil(fast.ms / 3000))
    expect(fast.refused.length).toBeGreaterThan(0)
    expect(new Set(fast.refused)).toEqual(new Set([4429]))

    // A stored document is not new: it still opens for the throttled address, with its content.
    const kept = await WireClient.open(relay.url, 'kept/doc', from('127.0.0.2'))
    kept.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    const step2 = await kept.waitFor('sync-step2')
    const doc = new Y.Doc()
    Y.applyUpdate(doc, step2.update)
    expect(doc.getText('t').toString()).toBe('content of kept/doc')
    kept.close()
    // Another address has a budget of its own.
    expect(await tryOpen(relay, 'other/new', from('127.0.0.3'))).toBe('open')
    // And 0 disables the budget.
    const unlimited = await startRelay({ args: ['--max-new-docs-per-minute', '0'] })
    expect((await createMany(unlimited, 'spam', 30, from('127.0.0.2'))).opened).toBe(30)
  })

  it('charges tokens by sub, so one writer past its budget does not throttle another on the same address', async () => {
    const SECRET = 'doc-creation-secret-1d9e'
    const relay = await startRelay({ args: ['--auth-secret', SECRET, '--max-new-docs-per-minute', '5'] })
    const alice = await signToken(SECRET, { docs: ['**'], access: 'write', sub: 'alice' })
    const bob = await signToken(SECRET, { docs: ['**'], access: 'write', sub: 'bob' })
    await write(relay, 'alice/kept', { token: alice })

    // One of alice's 5 went to alice/kept; one more every 12 s while the loop runs.
    const spam = await createMany(relay, 'alice/spam', 10, { token: alice })
    expect(spam.opened).toBeGreaterThanOrEqual(4)
    expect(spam.opened).toBeLessThanOrEqual(4 + Math.ceil(spam.ms / 12_000))
    expect(spam.refused.length).toBeGreaterThan(0)
    expect(new Set(spam.refused)).toEqual(new Set([4429]))
    expect(await tryOpen(relay, 'alice/kept', { token: alice })).toBe('open')
    expect((await createMany(relay, 'bob/new', 5, { token: bob })).opened).toBe(5)
  })
})

describe('documents nothing was stored of', () => {
  it('leave memory as soon as their last socket closes, while written ones wait out the idle window', async () => {
    const relay = await startRelay({ args: ['--idle-ms', '30000'] })
    await write(relay, 'written/doc')
    const written = await WireClient.open(relay.url, 'written/doc')
    const empty = await WireClient.open(relay.url, 'empty/doc')
    await empty.waitFor('sync-step1')
    await written.waitFor('sync-step1')
    expect(await docsActive(relay)).toBe(2)
    empty.close()
    written.close()
    // Far sooner than the 30 s idle window.
    await eventually(async () => (await docsActive(relay)) === 1, {
      what: 'the empty document evicted',
      timeout: 5_000,
    })
    // The written one stays loaded for the idle window; the empty one can be opened again.
    expect(await tryOpen(relay, 'empty/doc')).toBe('open')
    expect(await docsActive(relay)).toBeGreaterThanOrEqual(1)
  })
})
