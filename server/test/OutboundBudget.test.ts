import { describe, expect, it } from 'vitest'
import {
  type OutboundAccount,
  OutboundBudget,
  type OutboundScope,
} from '../src/connections/OutboundBudget.js'

function budget(maxBytes: number, maxBytesPerIp: number) {
  const evicted: string[] = []
  const scopes: OutboundScope[] = []
  const b = new OutboundBudget({ maxBytes, maxBytesPerIp }, { onEvicted: (scope) => scopes.push(scope) })
  const open = (name: string, ip = '10.0.0.1'): OutboundAccount => b.open(ip, () => evicted.push(name))
  return { b, open, evicted, scopes }
}

describe('OutboundBudget (finding 5: slow readers)', () => {
  it('counts bytes from reserve until the write callback, once per frame', () => {
    const { b, open } = budget(100, 100)
    const a = open('a')
    const done = a.reserve(30)!
    const done2 = a.reserve(20)!
    expect(b.bufferedBytes).toBe(50)
    expect(b.bufferedBytesOf('10.0.0.1')).toBe(50)
    done()
    done() // a second call of one callback releases nothing more
    expect(b.bufferedBytes).toBe(20)
    done2()
    expect(b.bufferedBytes).toBe(0)
    expect(b.bufferedBytesOf('10.0.0.1')).toBe(0)
  })

  it('evicts the newest holders until a frame fits, never a sender that holds nothing', () => {
    const { b, open, evicted, scopes } = budget(100, 1000)
    const old = open('old', '10.0.0.1')
    const mid = open('mid', '10.0.0.2')
    const idle = open('idle', '10.0.0.3')
    const fresh = open('fresh', '10.0.0.4')
    old.reserve(40)
    const midWritten = mid.reserve(40)!
    // `fresh` holds nothing: the newest holder (mid) goes to make room, not fresh, not old.
    expect(fresh.reserve(40)).not.toBeNull()
    expect(evicted).toEqual(['mid'])
    expect(scopes).toEqual(['total'])
    expect(mid.open).toBe(false)
    expect(idle.open).toBe(true)
    expect(b.bufferedBytes).toBe(80)
    // A late write callback of an evicted socket changes nothing.
    midWritten()
    expect(b.bufferedBytes).toBe(80)
  })

  it('gives up the sender itself when it is the newest holder (the caller closes it)', () => {
    const { b, open, evicted } = budget(100, 1000)
    const old = open('old', '10.0.0.1')
    const greedy = open('greedy', '10.0.0.2')
    old.reserve(40)
    greedy.reserve(40)
    expect(greedy.reserve(40)).toBeNull()
    expect(greedy.open).toBe(false)
    // The sender is not told through its evict callback: the null answer is the signal.
    expect(evicted).toEqual([])
    expect(b.bufferedBytes).toBe(40)
    expect(greedy.reserve(1)).toBeNull()
  })

  it('keeps the per-IP budget within one address: other addresses are untouched', () => {
    const { b, open, evicted, scopes } = budget(1000, 100)
    const other = open('other', '10.0.0.9')
    other.reserve(90)
    const first = open('first', '10.0.0.1')
    const second = open('second', '10.0.0.1')
    first.reserve(60)
    expect(second.reserve(60)).not.toBeNull()
    expect(evicted).toEqual(['first'])
    expect(scopes).toEqual(['ip'])
    expect(other.open).toBe(true)
    expect(b.bufferedBytesOf('10.0.0.1')).toBe(60)
    expect(b.bufferedBytesOf('10.0.0.9')).toBe(90)
  })

  it('refuses a frame larger than a whole budget without evicting anyone', () => {
    const { b, open, evicted } = budget(100, 50)
    const holder = open('holder', '10.0.0.2')
    holder.reserve(10)
    const big = open('big')
    expect(big.reserve(60)).toBeNull()
    expect(evicted).toEqual([])
    expect(b.bufferedBytes).toBe(10)
  })

  it('releases everything an account still holds when its socket closes', () => {
    const { b, open } = budget(100, 100)
    const a = open('a')
    const done = a.reserve(70)!
    a.close()
    expect(b.bufferedBytes).toBe(0)
    done()
    expect(b.bufferedBytes).toBe(0)
    const c = open('c')
    expect(c.reserve(100)).not.toBeNull()
  })

  it('settles its counts before calling evict, so an evicted socket may send again (and be refused)', () => {
    const b = new OutboundBudget({ maxBytes: 100, maxBytesPerIp: 100 })
    let nested: unknown = 'not called'
    const victim: OutboundAccount = b.open('10.0.0.1', () => {
      nested = victim.reserve(5)
      expect(b.bufferedBytes).toBe(60)
    })
    victim.reserve(50)
    const sender = b.open('10.0.0.1', () => {})
    expect(sender.reserve(60)).not.toBeNull()
    expect(nested).toBeNull()
    expect(b.bufferedBytes).toBe(60)
  })
})
