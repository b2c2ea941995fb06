import { digestOfDoc, encodeSyncUpdate } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalog } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { prng, testSeed, withSeed } from '../../test/support/seed.mjs'
import { deepChain, dependentUpdate, partialApplyUpdate } from './support/hostileUpdates.js'
import { SyncSocket } from './support/SyncSocket.js'
import { WireClient } from './support/WireClient.js'

afterEach(stopAllRelays)

const FILE = 'server/test/hostile-updates.test.ts'

/** The document as the relay serves it to a fresh socket. */
async function served(relay: RelayProcess, name: string): Promise<Y.Doc> {
  const s = await SyncSocket.open(relay.url, name)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(s.doc))
  s.close()
  return doc
}

/** Restarts the relay and returns the document as stored (served from a fresh load). */
async function storedAfterRestart(relay: RelayProcess, name: string): Promise<Y.Doc> {
  await relay.stop()
  await relay.start()
  const doc = await served(relay, name)
  const entry = (await catalog(relay.httpUrl)).get(name)
  expect(entry?.digest, `${name}: catalog digest equals the served state`).toBe(digestOfDoc(doc))
  return doc
}

/**
 * After an attack on `name`: a new writer's edit is acknowledged, broadcast to another socket, and
 * after a restart the stored state equals what the writer sees.
 */
async function legitimateEditSurvives(relay: RelayProcess, name: string, text: string): Promise<Y.Doc> {
  const reader = await SyncSocket.open(relay.url, name)
  const writer = await SyncSocket.open(relay.url, name)
  const t = writer.doc.getText('legit')
  t.insert(t.length, text)
  await eventually(() => writer.acked(writer.sent), { what: `ACK of the edit on ${name}` })
  await eventually(() => reader.doc.getText('legit').toString().includes(text), {
    what: `edit on ${name} broadcast to another socket`,
  })
  expect(digestOfDoc(reader.doc)).toBe(digestOfDoc(writer.doc))
  const expected = new Y.Doc()
  Y.applyUpdate(expected, Y.encodeStateAsUpdate(writer.doc))
  reader.close()
  writer.close()
  const stored = await storedAfterRestart(relay, name)
  expect(digestOfDoc(stored), `${name}: stored state equals what the writer saw`).toBe(digestOfDoc(expected))
  return stored
}

describe('updates Yjs cannot apply cleanly', () => {
  it('finding 2: a 30 KB update whose garbage collection overflows the stack is refused; later edits are stored, broadcast and only then acknowledged', async () => {
    const relay = await startRelay()
    const name = 'hostile/deep-delete'
    const before = await SyncSocket.open(relay.url, name)
    before.doc.getText('legit').insert(0, 'before ')
    await eventually(() => before.acked(before.sent), { what: 'ACK before the attack' })

    // 2,500 nested maps built on a gc:false document, merged with the delete of their root.
    const { update } = deepChain(2500, { deleteRoot: true })
    expect(update.length).toBeLessThan(40_000)
    const attacker = await WireClient.open(relay.url, name)
    attacker.send(encodeSyncUpdate(update))
    expect((await attacker.waitEnd()).code).toBe(4400)

    // Joiners get a state their own Y.Doc can apply, without any of the attack.
    const stored = await legitimateEditSurvives(relay, name, 'after')
    expect(stored.getText('legit').toString()).toBe('before after')
    expect(stored.getMap('deep').size).toBe(0)
  })

  it('finding 2: shared types nested past the limit are refused whole; a deep but legal structure and the delete of its root are accepted', async () => {
    const relay = await startRelay()
    const name = 'hostile/nesting'
    const attacker = await WireClient.open(relay.url, name)
    attacker.send(encodeSyncUpdate(deepChain(300).update))
    expect((await attacker.waitEnd()).code).toBe(4400)
    expect((await catalog(relay.httpUrl)).has(name), 'nothing of the refused update stored').toBe(false)

    const legal = deepChain(200, { client: 4242 })
    const writer = await SyncSocket.open(relay.url, name)
    Y.applyUpdate(writer.doc, legal.chain, 'raw')
    await eventually(() => writer.acked(writer.sent), { what: 'ACK of a 200-deep chain' })
    writer.sendUpdate(legal.deletion)
    await eventually(() => writer.acked(writer.sent), { what: 'ACK of the delete of its root' })
    const expected = new Y.Doc()
    Y.applyUpdate(expected, legal.chain)
    Y.applyUpdate(expected, legal.deletion)
    writer.close()
    const stored = await storedAfterRestart(relay, name)
    expect(digestOfDoc(stored)).toBe(digestOfDoc(expected))
    expect(stored.getMap('deep').size).toBe(0)
  })

  it('finding 2: a recovering relay does not store a pulled document Yjs cannot apply cleanly', async () => {
    const peer = await startRelay()
    const legit = await SyncSocket.open(peer.url, 'a/legit')
    legit.doc.getText('legit').insert(0, 'served by the peer')
    await eventually(() => legit.acked(legit.sent), { what: 'ACK on the peer' })
    legit.close()
    await peer.stop()
    // What an older build may hold: the store only checks that an update decodes.
    const db = new ClassicLevel<string, Uint8Array>(peer.dataDir, { valueEncoding: 'view' })
    const store = await DocStore.open(db)
    await store.append('z/deep', deepChain(2500).update)
    await store.close()
    await peer.start()

    const relay = await startRelay({ peers: [peer.url] })
    await eventually(async () => (await catalog(relay.httpUrl)).get('a/legit')?.digest, {
      what: 'a/legit pulled',
    })
    await eventually(() => relay.log.join('').includes('malformed mesh message'), {
      what: 'the pull answer refused',
    })
    expect((await catalog(relay.httpUrl)).has('z/deep')).toBe(false)
    expect((await served(relay, 'a/legit')).getText('legit').toString()).toBe('served by the peer')
  })

  it('finding 6: an update waiting for missing structs is acknowledged only once they arrived and are stored', async () => {
    const seed = testSeed()
    await withSeed(FILE, seed, async () => {
      const random = prng(seed)
      const relay = await startRelay()
      const name = 'hostile/pending'
      const writer = await SyncSocket.open(relay.url, name)
      const reader = await SyncSocket.open(relay.url, name)
      const { update, dependency } = dependentUpdate(random, 200)
      const heldN = writer.sendUpdate(update)
      writer.doc.getText('legit').insert(0, 'independent')
      await eventually(() => reader.doc.getText('legit').toString() === 'independent', {
        what: 'the later message broadcast',
      })
      // Another socket's edit committed after both messages: had the relay meant to acknowledge
      // them, it would have before the ACK below, and before answering the writer's round trip.
      const other = await SyncSocket.open(relay.url, name)
      other.doc.getMap('other').set('k', 1)
      await eventually(() => other.acked(other.sent), { what: 'ACK of another socket' })
      await writer.roundTrip()
      expect(
        writer.acks.filter((n) => n >= heldN),
        'no ACK covers the held update',
      ).toEqual([])
      expect(reader.doc.getText('pending').toString()).toBe('')

      const depN = writer.sendUpdate(dependency)
      await eventually(() => writer.acked(depN), { what: 'ACK once the dependency arrived' })
      await eventually(() => reader.doc.getText('pending').length > 100, { what: 'held part broadcast' })
      const expected = new Y.Doc()
      Y.applyUpdate(expected, Y.encodeStateAsUpdate(writer.doc))
      Y.applyUpdate(expected, dependency)
      Y.applyUpdate(expected, update)
      expect(digestOfDoc(reader.doc)).toBe(digestOfDoc(expected))
      writer.close()
      reader.close()
      other.close()
      const stored = await storedAfterRestart(relay, name)
      expect(digestOfDoc(stored)).toBe(digestOfDoc(expected))
    })
  })

  it('finding 6: held bytes per document are bounded (4413), dropped with their sender, and /healthz stays fast meanwhile', async () => {
    const seed = testSeed()
    await withSeed(FILE, seed, async () => {
      const random = prng(seed)
      const MAX = 1024 * 1024
      const relay = await startRelay({ args: ['--max-message-bytes', String(MAX)] })
      const name = 'hostile/pending-flood'
      // 240 updates of 60 KB (14 MB), each waiting for a client the relay never gets.
      const attack = Array.from({ length: 240 }, () => dependentUpdate(random, 60_000, 'flood'))
      let worst = 0
      let probing = true
      const probe = (async () => {
        while (probing) {
          const t0 = performance.now()
          const res = await fetch(`${relay.httpUrl}/healthz`)
          await res.json()
          worst = Math.max(worst, performance.now() - t0)
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      const closes: (number | null)[] = []
      let acked = 0
      let next = 0
      // Each socket sends more than the budget (24 x 60 KB > 1 MiB) and must be closed 4413.
      const PER_SOCKET = 24
      const attacker = async () => {
        while (next < attack.length) {
          const batch = attack.slice(next, next + PER_SOCKET)
          next += PER_SOCKET
          const s = await WireClient.open(relay.url, name)
          // The relay greets once the document is loaded (before that, bytes count against 4429).
          await s.waitFor('sync-step1')
          for (const a of batch) {
            if (s.ended) break
            s.send(encodeSyncUpdate(a.update))
            await new Promise((r) => setImmediate(r))
          }
          const end = await s.waitEnd(15_000).catch(() => null)
          closes.push(end?.code ?? null)
          acked += s.acks.length
          s.close()
        }
      }
      await Promise.all([attacker(), attacker(), attacker()])
      probing = false
      await probe
      console.log(`pending flood: closes ${JSON.stringify(closes)}, worst /healthz ${worst.toFixed(0)} ms`)
      expect(closes.length).toBeGreaterThan(3)
      expect(closes.every((c) => c === 4413)).toBe(true)
      expect(acked, 'nothing held was acknowledged').toBe(0)
      expect(worst).toBeLessThan(500)

      // The held data is gone: sending every missing dependency integrates nothing of the attack.
      const late = await SyncSocket.open(relay.url, name)
      for (const a of attack) late.sendUpdate(a.dependency)
      await eventually(() => late.acked(late.sent), { what: 'dependencies acknowledged' })
      late.close()
      const stored = await legitimateEditSurvives(relay, name, 'after the flood')
      expect(stored.getText('flood').length).toBe(attack.length)
    })
  })

  it('finding 7: an update Yjs rejects halfway leaves no trace in memory, the store or other sockets', async () => {
    const seed = testSeed()
    await withSeed(FILE, seed, async () => {
      const random = prng(seed)
      const relay = await startRelay()
      const name = 'hostile/partial'
      const writer = await SyncSocket.open(relay.url, name)
      writer.doc.getText('legit').insert(0, 'legit')
      await eventually(() => writer.acked(writer.sent), { what: 'ACK of the legitimate edit' })
      const legitState = Y.encodeStateAsUpdate(writer.doc)
      const bad = partialApplyUpdate(random, legitState)
      const attacker = await WireClient.open(relay.url, name)
      attacker.send(encodeSyncUpdate(bad))
      expect((await attacker.waitEnd()).code).toBe(4400)

      // In memory: a joiner right after the attack gets exactly the legitimate state.
      const joiner = await served(relay, name)
      const legit = new Y.Doc()
      Y.applyUpdate(legit, legitState)
      expect(digestOfDoc(joiner)).toBe(digestOfDoc(legit))
      expect(digestOfDoc(writer.doc), 'nothing of it broadcast').toBe(digestOfDoc(legit))
      writer.close()
      // On other sockets and in the store.
      const stored = await legitimateEditSurvives(relay, name, ' more')
      expect(stored.getText('legit').toString()).toBe('legit more')
      // Root types are created by the structs that use them: any other one came from the attack.
      expect([...stored.share.keys()]).toEqual(['legit'])
    })
  })
})
