// What a relay does with whole documents a peer sends (docs/PROTOCOL.md, Mesh: fetch and records)
// that fail their checks: nothing of them is stored, they are pulled with step1 instead, and
// answers nobody asked for close the link.
import { digestOfDoc, type MeshMessage } from '@rhizome/protocol'
import { encodeChecked } from '@rhizome/store'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogOf } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import type { MeshTestPeer } from './support/MeshTestPeer.js'
import { meshPeerSuite } from './support/meshPeerSuite.js'

const MESH_SECRET = 'refill-hostile-secret-0123456789'

const suite = meshPeerSuite(MESH_SECRET)
const peer = suite.peer

/** A document's state and digest, written by `client`. */
function docOf(text: string, client: number): { doc: Y.Doc; update: Uint8Array; digest: string } {
  const doc = new Y.Doc()
  doc.clientID = client
  doc.getText('t').insert(0, text)
  return { doc, update: Y.encodeStateAsUpdate(doc), digest: digestOfDoc(doc) }
}

/** One stored log record of `name` carrying `payload`, framed as a store frames it. */
function logRecord(name: string, payload: Uint8Array): { suffix: string; value: Uint8Array } {
  const suffix = 'l0000000000aaaaaa00000000001@0'
  return { suffix, value: encodeChecked(`d:${name}\u0000${suffix}`, payload) }
}

async function next<T extends MeshMessage['type']>(
  p: MeshTestPeer,
  type: T,
  where: (m: Extract<MeshMessage, { type: T }>) => boolean = () => true,
): Promise<Extract<MeshMessage, { type: T }>> {
  let found: Extract<MeshMessage, { type: T }> | undefined
  await eventually(
    () => {
      found = p.received.find(
        (m): m is Extract<MeshMessage, { type: T }> => m.type === type && where(m as never),
      )
      return found !== undefined
    },
    { what: `a ${type} from the relay` },
  )
  return found!
}

describe('whole documents from a peer', () => {
  it('stores those that check out; pulls the damaged and the incomplete with step1 instead', async () => {
    const p = await peer()
    const good = docOf('a good document', 11)
    const damaged = docOf('a damaged document', 12)
    const base = docOf('the start', 13)
    const partial = new Y.Doc()
    partial.clientID = 14
    Y.applyUpdate(partial, base.update)
    partial.getText('t').insert(3, ' middle')
    // Only client 14's insert: its origin is a struct of client 13 the records lack.
    const incomplete = Y.encodeStateAsUpdate(partial, Y.encodeStateVector(base.doc))
    const names = ['h/damaged', 'h/good', 'h/incomplete']
    p.send({
      type: 'catalog',
      round: 1,
      last: true,
      entries: [
        { name: 'h/damaged', digest: damaged.digest },
        { name: 'h/good', digest: good.digest },
        { name: 'h/incomplete', digest: digestOfDoc(partial) },
      ],
    })
    const fetch = await next(p, 'fetch')
    expect(fetch.names).toEqual(names)
    const flipped = logRecord('h/damaged', damaged.update)
    flipped.value[flipped.value.length - 1]! ^= 1
    p.send({
      type: 'records',
      seq: 1,
      docs: [
        {
          name: 'h/damaged',
          digest: damaged.digest,
          stateVector: Y.encodeStateVector(damaged.doc),
          records: [flipped],
        },
        {
          name: 'h/good',
          digest: good.digest,
          stateVector: Y.encodeStateVector(good.doc),
          records: [logRecord('h/good', good.update)],
        },
        {
          name: 'h/incomplete',
          digest: '',
          stateVector: new Uint8Array(),
          records: [logRecord('h/incomplete', incomplete)],
        },
      ],
      unavailable: [],
    })
    // The good one is stored with the peer's digest; the others are asked for with step1.
    await next(p, 'ack', (m) => m.seq >= 1)
    expect((await catalogOf(suite.relay().httpUrl)).get('h/good')).toBe(good.digest)
    await next(p, 'step1', (m) => m.name === 'h/damaged')
    await next(p, 'step1', (m) => m.name === 'h/incomplete')
    const catalog = await catalogOf(suite.relay().httpUrl)
    expect(catalog.has('h/damaged')).toBe(false)
    expect(catalog.has('h/incomplete')).toBe(false)
    expect(p.ending).toBe(null)
  })

  it('closes the link with 4400 on records nobody asked for', async () => {
    const p = await peer()
    const stray = docOf('unasked', 21)
    p.send({
      type: 'records',
      seq: 1,
      docs: [
        {
          name: 'h/stray',
          digest: stray.digest,
          stateVector: Y.encodeStateVector(stray.doc),
          records: [logRecord('h/stray', stray.update)],
        },
      ],
      unavailable: [],
    })
    expect((await p.ended).code).toBe(4400)
    expect((await catalogOf(suite.relay().httpUrl)).has('h/stray')).toBe(false)
  })
})
