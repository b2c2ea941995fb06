import { docPatternMatches } from '@rhizome/protocol'
import { describe, expect, it } from 'vitest'
import { prng, testSeed, withSeed } from '../../test/support/seed.mjs'
import { SessionFeed } from '../src/sessions/SessionFeed.js'
import { checkPatterns, coveringPrefixes, literalPrefix } from '../src/sessions/sessionPatterns.js'

describe('session patterns', () => {
  it('takes the literal prefix and drops prefixes another one covers', () => {
    expect(literalPrefix('notes/**')).toBe('notes/')
    expect(literalPrefix('notes/x*')).toBe('notes/x')
    expect(literalPrefix('notes/today')).toBe('notes/today')
    expect(coveringPrefixes(['notes/2024/**', 'notes/**', 'contacts/*', 'notes/x'])).toEqual([
      'contacts/',
      'notes/',
    ])
    expect(coveringPrefixes(['a/**', '**'])).toEqual([''])
  })

  it.each([[''], ['/abs'], ['a b'], ['x'.repeat(1025)], ['bad%']])('refuses the pattern %j', (p) => {
    expect(() => checkPatterns([p])).toThrow(/invalid pattern/)
  })
})

describe('SessionFeed', () => {
  it('finds exactly the subscribers whose patterns or names match (random, against brute force)', async () => {
    const seed = testSeed()
    await withSeed('server/test/sessions-feed.test.ts', seed, async () => {
      const random = prng(seed)
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!
      const segments = ['a', 'b', 'ab', 'notes', 'x.md']
      const name = () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(segments)).join('/')
      const pattern = () =>
        Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
          pick([...segments, '*', '**', 'a*', '*.md']),
        ).join('/')
      const feed = new SessionFeed<number>()
      const wanted = new Map<number, { patterns: string[]; docs: string[] }>()
      for (let s = 0; s < 40; s++) {
        const w = { patterns: [] as string[], docs: [] as string[] }
        for (let i = Math.floor(random() * 4); i > 0; i--) {
          const p = pattern()
          w.patterns.push(p)
          feed.addPattern(s, p)
        }
        if (random() < 0.3) {
          const d = name()
          w.docs.push(d)
          feed.addDoc(s, d)
        }
        wanted.set(s, w)
      }
      for (let s = 0; s < 40; s += 3) {
        feed.remove(s)
        wanted.delete(s)
      }
      for (let i = 0; i < 500; i++) {
        const n = name()
        const expected = [...wanted]
          .filter(([, w]) => w.docs.includes(n) || w.patterns.some((p) => docPatternMatches(p, n)))
          .map(([s]) => s)
          .sort((x, y) => x - y)
        expect(
          [...feed.subscribersOf(n)].sort((x, y) => x - y),
          n,
        ).toEqual(expected)
        for (const s of wanted.keys()) expect(feed.has(s, n)).toBe(expected.includes(s))
      }
    })
  })
})
