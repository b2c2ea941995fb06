import { describe, expect, it } from 'vitest'
import { DocCreationBudget, docCreationKey } from '../src/connections/DocCreationBudget.js'

describe('DocCreationBudget (finding 9: unbounded document creation)', () => {
  it('allows perMinute new documents at once, then refills at perMinute a minute', () => {
    const b = new DocCreationBudget(6)
    for (let i = 0; i < 6; i++) expect(b.take('k', 0)).toBe(true)
    expect(b.take('k', 0)).toBe(false)
    // 6 a minute: one more every 10 s.
    expect(b.take('k', 9_000)).toBe(false)
    expect(b.take('k', 10_500)).toBe(true)
    expect(b.take('k', 10_600)).toBe(false)
    // A key of its own is unaffected.
    expect(b.take('other', 10_600)).toBe(true)
  })

  it('charges only new documents', async () => {
    const b = new DocCreationBudget(1)
    expect(await b.admit('k', () => true)).toBe(true)
    expect(await b.admit('k', () => true)).toBe(false)
    expect(await b.admit('k', async () => false)).toBe(true)
  })

  it('is disabled by 0 and then never asks whether a document is new', async () => {
    const b = new DocCreationBudget(0)
    expect(b.enabled).toBe(false)
    let asked = false
    for (let i = 0; i < 10_000; i++) {
      expect(
        await b.admit('k', () => {
          asked = true
          return true
        }),
      ).toBe(true)
    }
    expect(asked).toBe(false)
  })

  it('remembers at most maxKeys keys, forgetting refilled ones first', () => {
    const b = new DocCreationBudget(2, 4)
    b.take('busy', 1_000)
    b.take('busy', 1_000)
    for (const k of ['a', 'b', 'c']) b.take(k, 0)
    expect(b.size).toBe(4)
    // At 60 s a, b and c have refilled and are forgotten; busy (spent at 1 s) is not yet full.
    b.take('d', 60_000)
    expect(b.size).toBe(2)
    expect(b.take('busy', 60_000)).toBe(true)
    expect(b.take('busy', 60_000)).toBe(false)
    // Every key busy: the least recently used is dropped, the map stays bounded.
    for (const k of ['e', 'f', 'g', 'h', 'i']) {
      b.take(k, 60_000)
      b.take(k, 60_000)
      expect(b.size).toBeLessThanOrEqual(4)
    }
  })

  it('keys by sub, else by a hash of the token, else by IP', () => {
    expect(docCreationKey({ ip: '10.0.0.1', sub: 'alice', token: 't' })).toBe('sub:alice')
    const byToken = docCreationKey({ ip: '10.0.0.1', token: 'secret.token.value' })
    expect(byToken).toMatch(/^token:/)
    expect(byToken).not.toContain('secret')
    expect(docCreationKey({ ip: '10.0.0.2', token: 'secret.token.value' })).toBe(byToken)
    expect(docCreationKey({ ip: '10.0.0.1', token: null })).toBe('ip:10.0.0.1')
  })

  it('refuses a bad perMinute as a programmer error', () => {
    expect(() => new DocCreationBudget(-1)).toThrow(TypeError)
    expect(() => new DocCreationBudget(1.5)).toThrow(TypeError)
  })
})
