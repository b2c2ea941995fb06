import { createHmac, timingSafeEqual } from 'node:crypto'

/** The header that carries a webhook's signature (docs/PROTOCOL.md section 10). */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Rhizome-Signature'

/** `sha256=<lowercase hex HMAC-SHA256 of body under secret>`, the value of {@link WEBHOOK_SIGNATURE_HEADER}. */
export function signWebhookBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/**
 * True when `signature` (the header's value, as received) is the signature of `body` under
 * `secret`. For receivers: verify the raw body bytes before parsing them. Compares in constant time.
 */
export function verifyWebhookSignature(
  body: string | Uint8Array,
  signature: string | null | undefined,
  secret: string,
): boolean {
  if (typeof signature !== 'string') return false
  const expected = Buffer.from(signWebhookBody(body, secret))
  const given = Buffer.from(signature.trim())
  return given.length === expected.length && timingSafeEqual(given, expected)
}
