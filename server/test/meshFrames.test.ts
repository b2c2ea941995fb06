import { encodeMeshMessage, type MeshMessage } from '@rhizome/protocol'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogOf } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import type { MeshTestPeer } from './support/MeshTestPeer.js'
import { meshPeerSuite } from './support/meshPeerSuite.js'

const MESH_SECRET = 'frames-mesh-secret-0123456789'

const suite = meshPeerSuite(MESH_SECRET)
const peer = suite.peer

let seq = 0
/** A live update that creates document `name` with `text`. */
function update(name: string, text: string): MeshMessage {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return { type: 'update', name, update: Y.encodeStateAsUpdate(doc), seq: ++seq }
}

async function docNames(): Promise<string[]> {
  return [...(await catalogOf(suite.relay().httpUrl)).keys()]
}

/** Sends an authentic update on `p` and waits until the relay holds it (the link works). */
async function authentic(p: MeshTestPeer, name: string): Promise<void> {
  p.send(update(name, `authentic ${name}`))
  await eventually(async () => (await docNames()).includes(name), { what: `${name} applied` })
}

/** Flips one bit of `frame` at `index` (negative: from the end). */
function flipped(frame: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(frame)
  const at = index < 0 ? copy.length + index : index
  copy[at]! ^= 0x01
  return copy
}

describe('frames of an open mesh link', () => {
  it('an authentic peer replicates over sealed frames', async () => {
    const p = await peer()
    await authentic(p, 'frames/authentic')
    // The relay's own frames carry valid seals too (MeshTestPeer opens each one).
    await eventually(() => p.received.some((m) => m.type === 'ack'), { what: 'an ACK from the relay' })
    expect(p.ending).toBeNull()
  })

  it.each([
    // A sealed frame is: tag, MAC length, MAC (16 bytes), body length, body.
    ['a flipped MAC byte', 2],
    ['a flipped body byte', -1],
  ])('%s closes the link with 4401 and nothing of the frame is applied', async (_what, index) => {
    const p = await peer()
    await authentic(p, `tamper/ok-${index}`)
    p.sendRaw(flipped(p.seal(update(`tamper/bad-${index}`, 'forged')), index))
    expect((await p.ended).code).toBe(4401)
    expect(await docNames()).not.toContain(`tamper/bad-${index}`)
  })

  it('a replayed frame closes the link with 4401', async () => {
    const p = await peer()
    const frame = p.seal(update('replay/a', 'once'))
    p.sendRaw(frame)
    await eventually(async () => (await docNames()).includes('replay/a'), { what: 'the first copy applied' })
    p.sendRaw(frame)
    expect((await p.ended).code).toBe(4401)
  })

  it('reordered frames close the link with 4401 and neither is applied', async () => {
    const p = await peer()
    const first = p.seal(update('order/first', 'one'))
    const second = p.seal(update('order/second', 'two'))
    p.sendRaw(second)
    p.sendRaw(first)
    expect((await p.ended).code).toBe(4401)
    const names = await docNames()
    expect(names).not.toContain('order/first')
    expect(names).not.toContain('order/second')
  })

  it('a dropped frame is noticed at the next one: 4401, the next one not applied', async () => {
    const p = await peer()
    p.seal(update('drop/lost', 'never sent'))
    p.sendRaw(p.seal(update('drop/after', 'after the gap')))
    expect((await p.ended).code).toBe(4401)
    expect(await docNames()).not.toContain('drop/after')
  })

  it("the relay's own frame reflected back to it closes the link with 4401", async () => {
    const p = await peer()
    await eventually(() => p.sealedFrames.length > 0, { what: 'a frame from the relay' })
    p.sendRaw(p.sealedFrames[0]!)
    expect((await p.ended).code).toBe(4401)
  })

  it('an unsealed frame on an open link closes it with 4401 and is not applied', async () => {
    const p = await peer()
    await authentic(p, 'plain/ok')
    p.sendRaw(encodeMeshMessage(update('plain/bad', 'unauthenticated')))
    expect((await p.ended).code).toBe(4401)
    expect(await docNames()).not.toContain('plain/bad')
  })

  it('a chunk with a bad MAC is refused before anything of it is buffered', async () => {
    const p = await peer()
    // Each chunk is authenticated on its own: without the key, not even the first one is kept, so
    // nobody but the peer can make the relay reassemble (up to 1 GiB).
    const chunk: MeshMessage = { type: 'chunk', last: false, bytes: new Uint8Array(1024 * 1024) }
    p.sendRaw(flipped(p.seal(chunk), -1))
    expect((await p.ended).code).toBe(4401)
  })
})
