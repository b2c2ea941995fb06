import { describe, expect, it } from 'vitest'
import { type AckSource, AckTracker } from '../src/docs/AckTracker.js'

/** A peer link as the tracker sees it. */
function peer(storeId: string): AckSource & { ackedSeq: number; open: boolean } {
  return { peerStoreId: storeId, ackedSeq: 0, open: true }
}

function tracker() {
  const sent: [number, number][] = []
  const t = new AckTracker((n, copies) => sent.push([n, copies]))
  return { t, sent }
}

const microtasks = () => new Promise<void>((r) => setTimeout(r, 0))

describe('AckTracker (docs/PROTOCOL.md section 3 ACK stream)', () => {
  it('acknowledges only after the local commit, one ACK per group commit', async () => {
    const { t, sent } = tracker()
    t.track(1, new Map())
    t.track(2, new Map())
    t.track(3, new Map())
    await microtasks()
    expect(sent).toEqual([])
    // One group commit covers all three: their callbacks run together and yield one ACK.
    t.localDone(1)
    t.localDone(2)
    t.localDone(3)
    await microtasks()
    expect(sent).toEqual([[3, 1]])
    expect(t.pending).toBe(0)
  })

  it('raises copies as peers acknowledge; n never decreases and copies for one n only grow', async () => {
    const { t, sent } = tracker()
    const b = peer('store-b')
    const c = peer('store-c')
    t.track(
      1,
      new Map([
        [b, 5],
        [c, 7],
      ]),
    )
    t.localDone(1)
    await microtasks()
    b.ackedSeq = 5
    t.evaluate()
    c.ackedSeq = 6 // not yet the target
    t.evaluate()
    c.ackedSeq = 7
    t.evaluate()
    expect(sent).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
    ])
    for (let i = 1; i < sent.length; i++) {
      expect(sent[i]![0]).toBeGreaterThanOrEqual(sent[i - 1]![0])
      if (sent[i]![0] === sent[i - 1]![0]) expect(sent[i]![1]).toBeGreaterThan(sent[i - 1]![1])
    }
  })

  it('counts two links to the same peer store once', async () => {
    const { t, sent } = tracker()
    const link1 = peer('store-b')
    const link2 = peer('store-b')
    link1.ackedSeq = 3
    link2.ackedSeq = 3
    t.track(
      1,
      new Map([
        [link1, 3],
        [link2, 3],
      ]),
    )
    t.localDone(1)
    await microtasks()
    expect(sent).toEqual([[1, 2]])
  })

  it('sends an older entry with more copies before a newer one with fewer, never the reverse', async () => {
    const { t, sent } = tracker()
    const b = peer('store-b')
    t.track(1, new Map([[b, 1]]))
    t.track(2, new Map([[b, 2]]))
    b.ackedSeq = 1
    t.localDone(2)
    await microtasks()
    expect(sent).toEqual([
      [1, 2],
      [2, 1],
    ])
    b.ackedSeq = 2
    t.evaluate()
    expect(sent.at(-1)).toEqual([2, 2])
  })

  it('drops targets on closed links that can no longer be reached', async () => {
    const { t, sent } = tracker()
    const b = peer('store-b')
    t.track(1, new Map([[b, 9]]))
    t.localDone(1)
    await microtasks()
    expect(t.pending).toBe(1)
    b.open = false
    t.evaluate()
    expect(t.pending).toBe(0)
    expect(sent).toEqual([[1, 1]])
  })

  it('sends no ACK at or past a held message until it is released, then counts peers from the release targets', async () => {
    const { t, sent } = tracker()
    const b = peer('store-b')
    t.track(1, new Map([[b, 1]]))
    t.localDone(1)
    t.track(2, new Map([[b, 2]]))
    t.hold(2)
    t.track(3, new Map([[b, 3]]))
    t.localDone(3) // a later commit: message 2 is still not integrated
    await microtasks()
    expect(sent).toEqual([[1, 1]])
    b.ackedSeq = 3
    t.evaluate()
    expect(sent.at(-1)).toEqual([1, 2])
    // Message 2's held part was forwarded after seq 3: the peer holds it only once it acks seq 9,
    // and so does message 3, whose ACK would cover message 2.
    t.release(2, new Map([[b, 9]]))
    await microtasks()
    expect(sent.at(-1)).toEqual([3, 1])
    b.ackedSeq = 9
    t.evaluate()
    expect(sent).toEqual([
      [1, 1],
      [1, 2],
      [3, 1],
      [3, 2],
    ])
  })
})
