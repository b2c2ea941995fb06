import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * Shortest `--auth-secret` / `--mesh-secret` accepted, in UTF-8 bytes. An HMAC key this short can
 * be brute-forced offline from one token or one recorded mesh handshake; 16 bytes of a random
 * secret put that out of reach (`openssl rand -base64 48` gives far more).
 */
export const MIN_SECRET_BYTES = 16

/**
 * Checks a secret option's value and returns it unchanged.
 * @param option how the value was given (`--auth-secret`, `RHIZOME_AUTH_SECRET (--auth-secret)`),
 *   named in the error.
 * @throws RhizomeError USAGE when the value is empty or shorter than {@link MIN_SECRET_BYTES}; the
 *   message names the option and the length, never the value.
 */
export function checkSecret(option: string, value: string): string {
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes === 0)
    throw new RhizomeError(
      ErrorCode.USAGE,
      `${option} is empty: give a secret of at least ${MIN_SECRET_BYTES} bytes`,
    )
  if (bytes < MIN_SECRET_BYTES) {
    throw new RhizomeError(
      ErrorCode.USAGE,
      `${option} is too short (${bytes} bytes): give a secret of at least ${MIN_SECRET_BYTES} bytes`,
    )
  }
  return value
}
