import * as prng from 'lib0/prng'
import { describe, expect, it } from 'vitest'
import { backoffCeiling, createBackoff, DEFAULT_BACKOFF, fullJitterDelay } from '../src/index.js'

const SEED = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
const replay = `SEED=${SEED} npx vitest run packages/client/test/backoff.test.ts`

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
    const gen = prng.create(SEED)
    const random = () => prng.real53(gen)
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
      const gen = prng.create(SEED)
      const b = createBackoff({ initialMs: 50, maxMs: 1000, random: () => prng.real53(gen) })
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
})
