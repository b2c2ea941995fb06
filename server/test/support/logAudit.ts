import { type RelayOptions, type RelayProcess, startRelay } from '../../../test/support/relays.js'

const audited: RelayProcess[] = []
const secrets = new Set<string>()

/** Registers a secret or token that must never appear in any relay's output. */
export function secret(value: string): string {
  secrets.add(value)
  return value
}

/** Starts a relay at debug log level whose whole output {@link leakedSecrets} searches. */
export async function auditedRelay(options: RelayOptions = {}): Promise<RelayProcess> {
  const relay = await startRelay({ ...options, env: { RHIZOME_LOG_LEVEL: 'debug', ...options.env } })
  audited.push(relay)
  return relay
}

/** Everything audited relays wrote to stdout and stderr so far. */
export function auditedOutput(): string {
  return audited.map((r) => r.log.join('')).join('\n')
}

/** The registered secrets (and the signature part of registered tokens) found in relay output. */
export function leakedSecrets(): string[] {
  const output = auditedOutput()
  const found: string[] = []
  for (const s of secrets) {
    const parts = s.split('.')
    const signature = parts.length === 3 && parts[2]!.length > 10 ? parts[2]! : null
    if (output.includes(s) || (signature !== null && output.includes(signature))) found.push(s)
  }
  return found
}
