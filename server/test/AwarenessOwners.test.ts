import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import { describe, expect, it } from 'vitest'
import { type AwarenessOwner, AwarenessOwners } from '../src/docs/AwarenessOwners.js'
import type { AwarenessEntry } from '../src/docs/awarenessUpdate.js'

function socket(): AwarenessOwner {
  return { awarenessIds: new Set() }
}

function entry(clientID: number, clock: number, state: unknown = { name: `c${clientID}` }): AwarenessEntry {
  return { clientID, clock, state, json: JSON.stringify(state) }
}

const ids = (entries: AwarenessEntry[]) => entries.map((e) => e.clientID)

describe('AwarenessOwners', () => {
  it('lets the first socket to set a state own the id; others cannot set or remove it (spoofing)', () => {
    const owners = new AwarenessOwners()
    const clocks = new Map<number, { clock: number }>()
    const alice = socket()
    const mallory = socket()
    expect(ids(owners.admit(alice, [entry(1, 1)], clocks, 16))).toEqual([1])
    clocks.set(1, { clock: 1 })
    expect(owners.ownerOf(1)).toBe(alice)
    // A higher clock, a removal, and both in one update: all dropped, nothing claimed.
    expect(owners.admit(mallory, [entry(1, 99, { name: 'MALLORY-as-alice' })], clocks, 16)).toEqual([])
    expect(owners.admit(mallory, [entry(1, 100, null)], clocks, 16)).toEqual([])
    // Mallory's own id in the same update still goes through.
    expect(ids(owners.admit(mallory, [entry(1, 101, null), entry(2, 1)], clocks, 16))).toEqual([2])
    expect(owners.ownerOf(1)).toBe(alice)
    expect([...mallory.awarenessIds]).toEqual([2])
    // The owner changes and removes its own state.
    expect(ids(owners.admit(alice, [entry(1, 2), entry(1, 3, null)], clocks, 16))).toEqual([1, 1])
  })

  it('never claims an id through a removal or a stale state (a stock client echoing what it received)', () => {
    const owners = new AwarenessOwners()
    const clocks = new Map([[5, { clock: 7 }]])
    const echoer = socket()
    expect(owners.admit(echoer, [entry(5, 7)], clocks, 16)).toEqual([])
    expect(owners.admit(echoer, [entry(5, 8, null)], clocks, 16)).toEqual([])
    // y-protocols ignores clock 0 for an id it never saw; so does ownership.
    expect(owners.admit(echoer, [entry(6, 0)], clocks, 16)).toEqual([])
    expect(owners.ownerOf(5)).toBeUndefined()
    expect(owners.ownerOf(6)).toBeUndefined()
    expect(echoer.awarenessIds.size).toBe(0)
  })

  it('frees an id when its owner is released, so a reconnecting client can take it again', () => {
    const owners = new AwarenessOwners()
    const clocks = new Map<number, { clock: number }>()
    const first = socket()
    owners.admit(first, [entry(1, 1), entry(2, 1)], clocks, 16)
    clocks.set(1, { clock: 1 })
    owners.release(first)
    expect(first.awarenessIds.size).toBe(0)
    expect(owners.ownerOf(1)).toBeUndefined()
    const again = socket()
    expect(owners.admit(again, [entry(1, 1)], clocks, 16)).toEqual([])
    expect(ids(owners.admit(again, [entry(1, 2)], clocks, 16))).toEqual([1])
    expect(owners.ownerOf(1)).toBe(again)
  })

  it('refuses to let one socket own more than the limit, claiming nothing of that update', () => {
    const owners = new AwarenessOwners()
    const clocks = new Map<number, { clock: number }>()
    const greedy = socket()
    owners.admit(greedy, [entry(1, 1), entry(2, 1)], clocks, 3)
    let code = ''
    try {
      owners.admit(greedy, [entry(3, 1), entry(4, 1)], clocks, 3)
    } catch (err) {
      code = isRhizomeError(err) ? err.code : String(err)
    }
    expect(code).toBe(ErrorCode.RATE_LIMITED)
    expect(owners.ownerOf(3)).toBeUndefined()
    expect([...greedy.awarenessIds]).toEqual([1, 2])
    // Duplicates of one id in one update count once.
    expect(ids(owners.admit(greedy, [entry(3, 1), entry(3, 2)], clocks, 3))).toEqual([3, 3])
  })
})
