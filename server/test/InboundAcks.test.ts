import { describe, expect, it } from 'vitest'
import { InboundAcks } from '../src/mesh/InboundAcks.js'

const microtasks = () => new Promise<void>((r) => setTimeout(r, 0))

function acks() {
  const sent: number[] = []
  const state = { open: true }
  const a = new InboundAcks(
    (seq) => sent.push(seq),
    () => state.open,
  )
  return { a, sent, state }
}

describe('InboundAcks (mesh acks of what the peer sent)', () => {
  it('acknowledges only a prefix that is all durable, once per advance', () => {
    const { a, sent } = acks()
    const one = a.applied(1)
    const two = a.applied(2)
    const three = a.applied(3)
    expect(a.lastSeq).toBe(3)
    two()
    expect(sent).toEqual([]) // 1 is still in flight: an ack of 2 would cover it
    one()
    expect(sent).toEqual([2])
    three()
    expect(sent).toEqual([2, 3])
  })

  it('releases a durable-through waiter once its seq is acknowledged, or when the link closes', async () => {
    const { a, state } = acks()
    const done = a.applied(1)
    a.applied(2)
    let first = false
    let second = false
    void a.whenDurableThrough(1).then(() => {
      first = true
    })
    void a.whenDurableThrough(2).then(() => {
      second = true
    })
    await microtasks()
    expect([first, second]).toEqual([false, false])
    done()
    await microtasks()
    expect([first, second]).toEqual([true, false])
    state.open = false
    a.wake()
    await microtasks()
    expect(second).toBe(true)
  })
})
