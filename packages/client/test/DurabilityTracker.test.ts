import { describe, expect, it } from 'vitest'
import { combinedCopies, DurabilityTracker } from '../src/index.js'

describe('DurabilityTracker', () => {
  it('counts nothing before the step2 that answers the relay step1', () => {
    const t = new DurabilityTracker()
    expect(t.frameSent('update', 3)).toBe(1) // an update before the baseline: counted as n=1 only
    expect(t.ack(1, 2)).toBe(false)
    expect(t.copiesAt(0)).toBe(0)
    expect(t.frameSent('step2', 3)).toBe(2)
    expect(t.ack(2, 2)).toBe(true)
    expect(t.copiesAt(3)).toBe(2)
    expect(t.copiesAt(4)).toBe(0)
  })

  it('an ACK covers the version of its frame and every earlier one; skipped n are fine', () => {
    const t = new DurabilityTracker()
    t.frameSent('step2', 5)
    t.frameSent('update', 6)
    t.frameSent('update', 7)
    t.frameSent('update', 8)
    expect(t.ack(3, 1)).toBe(true)
    expect(t.copiesAt(7)).toBe(1)
    expect(t.copiesAt(8)).toBe(0)
    // Same n, more copies (the mesh caught up): only grows.
    expect(t.ack(3, 3)).toBe(true)
    expect(t.copiesAt(7)).toBe(3)
    expect(t.ack(3, 2)).toBe(false)
    expect(t.copiesAt(7)).toBe(3)
    // A later n with fewer copies covers more versions with fewer copies; older entries still count.
    expect(t.ack(4, 1)).toBe(true)
    expect(t.copiesAt(8)).toBe(1)
    expect(t.copiesAt(6)).toBe(3)
  })

  it('ignores ACKs of frames this socket never sent, and decreasing n', () => {
    const t = new DurabilityTracker()
    t.frameSent('step2', 1)
    expect(t.ack(2, 1)).toBe(false)
    t.frameSent('update', 2)
    expect(t.ack(2, 1)).toBe(true)
    expect(t.ack(1, 5)).toBe(false)
    expect(t.copiesAt(2)).toBe(1)
  })

  it('reset() forgets the socket: numbering restarts at 1 and nothing is covered', () => {
    const t = new DurabilityTracker()
    t.frameSent('step2', 4)
    t.ack(1, 2)
    t.reset()
    expect(t.copiesAt(0)).toBe(0)
    expect(t.hasBaseline).toBe(false)
    expect(t.frameSent('update', 4)).toBe(1)
  })

  it('combinedCopies: max(best relay copies, relays holding it)', () => {
    const a = new DurabilityTracker()
    const b = new DurabilityTracker()
    a.frameSent('step2', 10)
    b.frameSent('step2', 10)
    expect(combinedCopies([a, b], 10)).toBe(0)
    a.ack(1, 1)
    expect(combinedCopies([a, b], 10)).toBe(1)
    b.ack(1, 1) // two relays that do not mesh: each holds one copy
    expect(combinedCopies([a, b], 10)).toBe(2)
    a.ack(1, 3) // a's mesh has three stores
    expect(combinedCopies([a, b], 10)).toBe(3)
    expect(combinedCopies([a, b], 11)).toBe(0)
  })
})
