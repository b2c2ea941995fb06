import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/**
 * Slowloris bounds: a connection must finish its request headers (an upgrade included) within
 * 10 s and a whole HTTP request within 30 s; checked every 2 s rather than Node's 30 s.
 */
const HTTP_TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000 }

/** Reads a PEM file named by a TLS option; an unreadable file is a usage error naming the option. */
function readTlsFile(option: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unreadable'
    throw new RhizomeError(ErrorCode.USAGE, `${option} ${file}: cannot read (${code})`, { cause })
  }
}

/**
 * The relay's HTTP server: plain, or HTTPS (`wss://`) when a certificate and key are given.
 * @throws RhizomeError USAGE when a TLS file cannot be read or is not a valid PEM pair.
 */
export function createServer(tls: { cert?: string; key?: string }): Server {
  if (!tls.cert) return createHttpServer(HTTP_TIMEOUTS)
  const cert = readTlsFile('--tls-cert', tls.cert)
  const key = readTlsFile('--tls-key', tls.key!)
  try {
    return createHttpsServer({ cert, key, ...HTTP_TIMEOUTS })
  } catch (cause) {
    throw new RhizomeError(ErrorCode.USAGE, '--tls-cert/--tls-key: not a valid PEM certificate and key', {
      cause,
    })
  }
}
