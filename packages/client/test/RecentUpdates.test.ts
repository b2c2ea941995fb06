import { describe, expect, it } from 'vitest'
import { RecentUpdates } from '../src/RecentUpdates.js'

describe('RecentUpdates (the copies of one update that every relay of a mesh forwards)', () => {
  it('knows an update by its bytes and document, never by its hash alone', () => {
    const recent = new RecentUpdates()
    const u = new Uint8Array([1, 2, 3, 4])
    expect(recent.has('a', u)).toBe(false)
    recent.add('a', u)
    expect(recent.has('a', new Uint8Array([1, 2, 3, 4]))).toBe(true)
    expect(recent.has('b', u)).toBe(false)
    expect(recent.has('a', new Uint8Array([1, 2, 3, 5]))).toBe(false)
  })

  it('stays bounded by count and bytes, forgetting the oldest first; whole documents are not kept', () => {
    const recent = new RecentUpdates(3, 10)
    const u = (n: number, size = 2) => new Uint8Array(size).fill(n)
    for (let i = 0; i < 4; i++) recent.add('d', u(i))
    expect(recent.has('d', u(0))).toBe(false)
    expect(recent.has('d', u(3))).toBe(true)
    recent.add('d', u(9, 8)) // 2 + 2 + 8 > 10: the older ones go
    expect(recent.has('d', u(9, 8))).toBe(true)
    expect(recent.has('d', u(1))).toBe(false)
    const big = new Uint8Array(65 * 1024)
    const roomy = new RecentUpdates()
    roomy.add('d', big)
    expect(roomy.has('d', big)).toBe(false)
  })
})
