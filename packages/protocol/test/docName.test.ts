import { describe, expect, it } from 'vitest'
import {
  docNameProblem,
  ErrorCode,
  encodeDocName,
  isRhizomeError,
  isValidDocName,
  MAX_DOC_NAME_BYTES,
  parseDocName,
} from '../src/index.js'

describe('document names (docs/PROTOCOL.md section 2)', () => {
  it.each([
    ['a', 'a single character'],
    ['notes/today', 'segments'],
    ['A-Z_a-z.0-9~:@', 'every allowed punctuation'],
    ['team/x/y/z', 'deep paths'],
    ['a..b', 'dots inside a segment'],
    ['a/.b/c.', 'segments starting or ending with a dot after the first'],
    ['a/_private', "'_' on a later segment"],
    ['x'.repeat(255), '255 bytes'],
    ['user@example.com:notes', 'mail-like'],
  ])('accepts %j (%s)', (name) => {
    expect(docNameProblem(name)).toBeNull()
    expect(isValidDocName(name)).toBe(true)
    expect(parseDocName(encodeDocName(name))).toBe(name)
  })

  it.each([
    ['', 'empty'],
    ['x'.repeat(256), '256 bytes'],
    ['/abs', 'leading slash'],
    ['_mesh', "leading '_' (relay paths)"],
    ['_', "just '_'"],
    ['.hidden', 'leading dot'],
    ['..', 'parent'],
    ['.', 'current'],
    ['a/../b', 'parent segment'],
    ['a/./b', 'dot segment'],
    ['a/..', 'trailing parent'],
    ['a//b', 'empty segment'],
    ['a/', 'trailing slash'],
    ['a b', 'space'],
    ['a\\b', 'backslash'],
    ['café', 'unicode (2-byte)'],
    ['日本', 'unicode (3-byte)'],
    ['a\u0000b', 'NUL'],
    ['a?b', 'query character'],
    ['a#b', 'fragment character'],
    ['a%b', 'percent sign'],
  ])('refuses %j (%s)', (name) => {
    expect(docNameProblem(name)).not.toBeNull()
    expect(isValidDocName(name)).toBe(false)
  })

  it.each([
    ['notes%2Ftoday', 'notes/today'],
    ['a%3Ab', 'a:b'],
    ['%41bc', 'Abc'],
    ['a~b', 'a~b'],
  ])('percent-decodes %j to %j', (encoded, name) => {
    expect(parseDocName(encoded)).toBe(name)
  })

  it.each([
    ['%2e%2e', 'encoded parent'],
    ['%2E%2E/x', 'encoded parent, upper case'],
    ['a/%2e%2e/b', 'encoded parent segment'],
    ['a/%2e/b', 'encoded dot segment'],
    ['%2Fabs', 'encoded leading slash'],
    ['%5Fmesh', "encoded leading '_'"],
    ['a%2F%2Fb', 'encoded empty segment'],
    ['caf%C3%A9', 'encoded unicode'],
    ['a%20b', 'encoded space'],
    ['a%5C..%5Cb', 'encoded backslashes'],
    ['a%00b', 'encoded NUL'],
    ['a%zz', 'bad escape'],
    ['a%', 'truncated escape'],
    ['%C3', 'invalid UTF-8'],
    [`${'x'.repeat(254)}%41%41`, '256 bytes after decoding'],
  ])('refuses %j (%s) with DOC_NAME_INVALID', (encoded) => {
    let caught: unknown
    try {
      parseDocName(encoded)
    } catch (err) {
      caught = err
    }
    expect(isRhizomeError(caught, ErrorCode.DOC_NAME_INVALID)).toBe(true)
  })

  it('counts the limit in bytes: 255 encoded as escapes is still 255', () => {
    expect(MAX_DOC_NAME_BYTES).toBe(255)
    expect(parseDocName('%41'.repeat(255))).toBe('A'.repeat(255))
  })

  it('encodes names so that only the allowed alphabet and / appear in URLs', () => {
    expect(encodeDocName('a:b@c/d~e')).toBe('a%3Ab%40c/d~e')
    expect(parseDocName(encodeDocName('a:b@c/d~e'))).toBe('a:b@c/d~e')
  })
})
