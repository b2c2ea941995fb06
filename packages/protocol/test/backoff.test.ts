import { describe, expect, it } from 'vitest'
import { prng, testSeed } from '../../../test/support/seed.mjs'
import {
  backoffCeiling,
  backoffDelay,
  createBackoff,
  DEFAULT_BACKOFF,
  fullJitterDelay,
} from '../src/index.js'

const SEED = testSeed()
const replay = `SEED=${SEED} npx vitest run packages/protocol/test/backoff.test.ts`

describe(`backoff (${replay})`, () => {
  it('ceiling grows by the factor from initialMs and is capped at maxMs', () => {
    const opts = { initialMs: 100, maxMs: 3000, factor: 2 }
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffCeiling(a, opts))).toEqual([
      100, 200, 400, 800, 1600, 3000, 3000,
    ])
    expect(backoffCeiling(10_000, opts)).toBe(3000) // 2^10000 overflows to Infinity, still capped
    expect(backoffCeiling(0)).toBe(DEFAULT_BACKOFF.initialMs)
    expect(backoffCeiling(100)).toBe(DEFAULT_BACKOFF.maxMs)
  })

  it('rejects nonsense options as programmer errors', () => {
    expect(() => backoffCeiling(-1)).toThrow(TypeError)
    expect(() => createBackoff({ factor: 0.5 })).toThrow(TypeError)
    expect(() => createBackoff({ maxMs: Number.NaN })).toThrow(TypeError)
  })

  it('full jitter: delays stay in [0, ceiling) and cover the whole window', () => {
    const random = prng(SEED)
    const opts = { initialMs: 100, maxMs: 2000, factor: 2, random }
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = backoffCeiling(attempt, opts)
      const samples = Array.from({ length: 400 }, () => fullJitterDelay(attempt, opts))
      for (const d of samples) {
        expect(d, replay).toBeGreaterThanOrEqual(0)
        expect(d, replay).toBeLessThan(ceiling)
      }
      // Full jitter, not "ceiling/2 + jitter": small and large delays both occur.
      expect(Math.min(...samples), replay).toBeLessThan(ceiling * 0.1)
      expect(Math.max(...samples), replay).toBeGreaterThan(ceiling * 0.9)
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length
      expect(mean, replay).toBeGreaterThan(ceiling * 0.4)
      expect(mean, replay).toBeLessThan(ceiling * 0.6)
    }
  })

  it('is reproducible from the seed and maps random() linearly onto the window', () => {
    const run = () => {
      const b = createBackoff({ initialMs: 50, maxMs: 1000, random: prng(SEED) })
      return Array.from({ length: 12 }, () => b.next())
    }
    expect(run(), replay).toEqual(run())
    expect(fullJitterDelay(3, { initialMs: 100, random: () => 0 })).toBe(0)
    expect(fullJitterDelay(3, { initialMs: 100, random: () => 0.5 })).toBe(400)
    expect(fullJitterDelay(3, { initialMs: 100, random: () => 0.999999 })).toBe(799)
  })

  it('counts attempts, caps, and starts over after reset()', () => {
    const b = createBackoff({ initialMs: 10, maxMs: 40, random: () => 0.999999 })
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([9, 19, 39, 39, 39])
    expect(b.attempt).toBe(5)
    b.reset()
    expect(b.attempt).toBe(0)
    expect(b.next()).toBe(9)
  })

  it('a zero initial delay stays zero at every attempt (no 0 * Infinity = NaN)', () => {
    for (const attempt of [0, 1, 30, 1100, 10_000]) {
      expect(backoffCeiling(attempt, { initialMs: 0 })).toBe(0)
      expect(fullJitterDelay(attempt, { initialMs: 0, random: () => 0.5 })).toBe(0)
    }
  })

  it('backoffDelay(attempt, baseMs, maxMs, random) is the doubling full-jitter delay the relay dials peers with', () => {
    // The relay's former formula, kept here as the reference the shared function must reproduce.
    const relayFormula = (attempt: number, baseMs: number, capMs: number, random: () => number) =>
      Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)))
    const random = prng(SEED)
    for (let i = 0; i < 2000; i++) {
      const attempt = Math.floor(random() * 40)
      const baseMs = Math.floor(random() * 1000)
      const maxMs = Math.floor(random() * 60_000)
      const r = random()
      expect(
        backoffDelay(attempt, baseMs, maxMs, () => r),
        replay,
      ).toBe(relayFormula(attempt, baseMs, maxMs, () => r))
    }
    expect([0, 1, 2, 3, 4, 5, 40].map((a) => backoffDelay(a, 200, 5000, () => 0.999999))).toEqual([
      199, 399, 799, 1599, 3199, 4999, 4999,
    ])
    expect(() => backoffDelay(-1, 200, 5000)).toThrow(TypeError)
  })
})
