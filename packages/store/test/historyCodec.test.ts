import { expect, it } from 'vitest'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { normalizeRanges, subtractRanges, unionRanges } from '../src/history/clockRanges.js'
import { decodeEffects, encodeEffects } from '../src/history/effectChunk.js'
import { type Effect, mergeEffects } from '../src/history/effects.js'
import { exactChunkKey, hourlyChunkKey, parseChunkKey, tailOfChunkKey } from '../src/history/historyKeys.js'
import { checkReceiveTime, receiveTimeOfLogKey, timedLogKey } from '../src/history/receiveTime.js'
import { logKey } from '../src/keys.js'

const FILE = 'packages/store/test/historyCodec.test.ts'

/** The clocks a flat range list covers, as a set (the meaning every range function must keep). */
function clocksOf(ranges: readonly number[]): Set<number> {
  const out = new Set<number>()
  for (let i = 0; i < ranges.length; i += 2)
    for (let c = ranges[i]!; c < ranges[i]! + ranges[i + 1]!; c++) out.add(c)
  return out
}

function randomRanges(rnd: () => number, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(Math.floor(rnd() * 60), Math.floor(rnd() * 8))
  return out
}

it('writes receive times into log keys and reads them back; old keys have none', () => {
  for (const name of ['doc', 'a@b/c@d', 'x'.repeat(200)]) {
    for (const at of [0, 1, 1_800_000_000_123, Number.MAX_SAFE_INTEGER]) {
      const key = timedLogKey(name, '00mx4vtptd9cbb8c', 42, at)
      expect(key.startsWith(logKey(name, '00mx4vtptd9cbb8c', 42))).toBe(true)
      expect(receiveTimeOfLogKey(name, key)).toBe(at)
    }
    expect(receiveTimeOfLogKey(name, logKey(name, '00mx4vtptd9cbb8c', 42))).toBeNull()
  }
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => checkReceiveTime(bad)).toThrow(TypeError)
})

it('parses chunk keys back into their kind and times, and exact chunk keys keep their tail', () => {
  const exact = exactChunkKey('a@b', 5, 1_800_000_000_000, 'l00mx4vtptd9cbb8c00000000001@x')
  expect(parseChunkKey('a@b', exact)).toEqual({ kind: 'x', first: 5, last: 1_800_000_000_000 })
  expect(tailOfChunkKey('a@b', exact)).toBe('l00mx4vtptd9cbb8c00000000001@x')
  expect(parseChunkKey('a@b', hourlyChunkKey('a@b', 3_600_000, 3_600_999))).toEqual({
    kind: 'h',
    first: 3_600_000,
    last: 3_600_999,
  })
  // Chunk keys sort by their first time.
  expect(exactChunkKey('d', 9, 9, 't') < exactChunkKey('d', 10, 10, 't')).toBe(true)
})

it('normalizes, unites and subtracts clock ranges like sets of clocks', async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    for (let round = 0; round < 300; round++) {
      const raw = randomRanges(rnd, Math.floor(rnd() * 6))
      const a = normalizeRanges(raw)
      const b = normalizeRanges(randomRanges(rnd, Math.floor(rnd() * 6)))
      expect(clocksOf(a)).toEqual(clocksOf(raw))
      // Normalized: sorted, non-empty, neither overlapping nor adjacent.
      for (let i = 2; i < a.length; i += 2) expect(a[i]!).toBeGreaterThan(a[i - 2]! + a[i - 1]!)
      expect(clocksOf(unionRanges([a, b]))).toEqual(new Set([...clocksOf(a), ...clocksOf(b)]))
      const diff = subtractRanges(a, b)
      expect(clocksOf(diff)).toEqual(new Set([...clocksOf(a)].filter((c) => !clocksOf(b).has(c))))
      expect(normalizeRanges(diff)).toEqual(diff)
    }
  })
})

function randomEffect(rnd: () => number, time: number): Effect {
  const clients = [1, 7, 4_000_000_000, 123_456]
  const inserts = new Map<number, number>()
  const deletes = new Map<number, number[]>()
  for (const client of clients) {
    if (rnd() < 0.4) inserts.set(client, Math.floor(rnd() * 1000))
    if (rnd() < 0.4) deletes.set(client, normalizeRanges(randomRanges(rnd, 1 + Math.floor(rnd() * 4))))
  }
  for (const [client, ranges] of deletes) if (ranges.length === 0) deletes.delete(client)
  return { time, bytes: Math.floor(rnd() * 5000), inserts, deletes }
}

it('round-trips effect chunks, with decreasing clocks, many clients and many deleting clients', async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    for (let round = 0; round < 50; round++) {
      let time = 1_800_000_000_000 + Math.floor(rnd() * 1e6)
      const effects: Effect[] = []
      for (let n = Math.floor(rnd() * 40); n > 0; n--) {
        time += rnd() < 0.2 ? 0 : Math.floor(rnd() * 100_000)
        effects.push(randomEffect(rnd, time))
      }
      expect(decodeEffects(encodeEffects(effects))).toEqual(effects)
    }
    expect(decodeEffects(encodeEffects([]))).toEqual([])
    const bytes = encodeEffects([randomEffect(rnd, 5)])
    expect(() => decodeEffects(bytes.subarray(0, bytes.length - 1))).toThrow()
    expect(() => decodeEffects(new Uint8Array([...bytes, 0]))).toThrow(/trailing/)
    expect(() => decodeEffects(new Uint8Array([9]))).toThrow(/version/)
  })
})

it('merges consecutive effects into one: latest time, summed bytes, first inserts, united deletions', () => {
  const merged = mergeEffects([
    { time: 10, bytes: 3, inserts: new Map([[1, 5]]), deletes: new Map([[2, [0, 2]]]) },
    {
      time: 20,
      bytes: 4,
      inserts: new Map([
        [1, 9],
        [3, 0],
      ]),
      deletes: new Map([[2, [2, 1, 8, 1]]]),
    },
  ])
  expect(merged).toEqual({
    time: 20,
    bytes: 7,
    inserts: new Map([
      [1, 5],
      [3, 0],
    ]),
    deletes: new Map([[2, [0, 3, 8, 1]]]),
  })
  expect(() => mergeEffects([])).toThrow(TypeError)
})
