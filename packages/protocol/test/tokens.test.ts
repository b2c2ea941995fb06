import { describe, expect, it } from 'vitest'
import { prng, testSeed, withSeed } from '../../../test/support/seed.js'
import { accessAllows, compileDocPattern, docPatternMatches, grantsDoc } from '../src/index.js'

describe('token patterns (PROTOCOL.md section 5)', () => {
  it.each([
    ['*', 'a', true],
    ['*', 'a/b', false],
    ['**', 'a', true],
    ['**', 'a/b/c', true],
    ['team/*', 'team/a', true],
    ['team/*', 'team/a/b', false],
    ['team/*', 'team/', true],
    ['team/*', 'team', false],
    ['team/**', 'team/a/b/c', true],
    ['team/**', 'team', false],
    ['team/**', 'teams/a', false],
    ['team/*/notes', 'team/x/notes', true],
    ['team/*/notes', 'team/x/y/notes', false],
    ['team/**/notes', 'team/x/y/notes', true],
    ['*.md', 'readme.md', true],
    ['*.md', 'dir/readme.md', false],
    ['**.md', 'dir/readme.md', true],
    ['a.b', 'axb', false],
    ['notes/today', 'notes/today', true],
    ['notes/today', 'notes/today2', false],
    ['notes/today', 'x/notes/today', false],
    ['u:*@x', 'u:me@x', true],
  ])('%j matches %j: %s', (pattern, name, expected) => {
    expect(docPatternMatches(pattern, name)).toBe(expected)
    expect(compileDocPattern(pattern)(name)).toBe(expected)
  })

  it('compileDocPattern agrees with docPatternMatches on random patterns and names', async () => {
    const seed = testSeed()
    await withSeed('packages/protocol/test/tokens.test.ts', seed, async () => {
      const random = prng(seed)
      const pick = (s: string) => s[Math.floor(random() * s.length)]!
      for (let i = 0; i < 5000; i++) {
        let pattern = ''
        for (let j = Math.floor(random() * 8); j > 0; j--) pattern += pick('ab/**.')
        let name = ''
        for (let j = Math.floor(random() * 10); j > 0; j--) name += pick('ab/.')
        expect(compileDocPattern(pattern)(name), `${pattern} vs ${name}`).toBe(
          docPatternMatches(pattern, name),
        )
      }
    })
  })

  it('compileDocPattern never backtracks (a pattern that takes a regular expression seconds)', () => {
    const match = compileDocPattern('*a'.repeat(40))
    const started = performance.now()
    expect(match(`${'a'.repeat(254)}b`)).toBe(false)
    expect(match('a'.repeat(255))).toBe(true)
    expect(performance.now() - started).toBeLessThan(200)
  })

  it('grants when any pattern matches the whole name', () => {
    const claims = { docs: ['a/*', 'b/**'] }
    expect(grantsDoc(claims, 'a/1')).toBe(true)
    expect(grantsDoc(claims, 'b/1/2')).toBe(true)
    expect(grantsDoc(claims, 'a/1/2')).toBe(false)
    expect(grantsDoc({ docs: [] }, 'a')).toBe(false)
  })

  it('orders access levels read < write < admin', () => {
    expect(accessAllows('read', 'read')).toBe(true)
    expect(accessAllows('read', 'write')).toBe(false)
    expect(accessAllows('write', 'read')).toBe(true)
    expect(accessAllows('write', 'admin')).toBe(false)
    expect(accessAllows('admin', 'write')).toBe(true)
  })
})
