import { describe, expect, it } from 'vitest'
import {
  CloseCode,
  closeCodeFor,
  ErrorCode,
  isPermanentClose,
  isRhizomeError,
  RhizomeError,
} from '../src/index.js'

describe('error codes and close codes (docs/PROTOCOL.md section 4)', () => {
  it.each([
    [ErrorCode.PROTOCOL_MALFORMED, 4400],
    [ErrorCode.AUTH_INVALID, 4401],
    [ErrorCode.AUTH_FORBIDDEN, 4403],
    [ErrorCode.PROTOCOL_TOO_LARGE, 4413],
    [ErrorCode.RATE_LIMITED, 4429],
    [ErrorCode.RELAY_UNAVAILABLE, 4500],
    [ErrorCode.STORE_CORRUPT, 4500],
  ])('%s closes with %i', (code, close) => {
    expect(closeCodeFor(new RhizomeError(code, 'x'))).toBe(close)
  })

  it('treats anything else as transient', () => {
    expect(closeCodeFor(new Error('boom'))).toBe(CloseCode.TRANSIENT)
    expect(closeCodeFor('string')).toBe(CloseCode.TRANSIENT)
  })

  it('marks 4400-4499 permanent, everything else retryable', () => {
    expect([4400, 4401, 4403, 4413, 4429].every(isPermanentClose)).toBe(true)
    expect([1001, 1006, 4500, 4599].some(isPermanentClose)).toBe(false)
  })

  it('keeps code and cause', () => {
    const cause = new Error('inner')
    const err = new RhizomeError(ErrorCode.STORE_CORRUPT, 'bad', { cause, doc: 'a' })
    expect(isRhizomeError(err, ErrorCode.STORE_CORRUPT)).toBe(true)
    expect(isRhizomeError(err, ErrorCode.USAGE)).toBe(false)
    expect(err.cause).toBe(cause)
    expect(err.doc).toBe('a')
    expect(err.name).toBe('RhizomeError')
  })
})
