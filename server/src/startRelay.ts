import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { ChangeHook } from './changes/changeOrigin.js'
import type { AuthenticateHook } from './connections/Authorizer.js'
import { parseRelayOptions } from './options.js'
import { Relay } from './Relay.js'

/**
 * Options of {@link startRelay}: the options of docs/PROTOCOL.md section 1 in camelCase
 * (`--max-message-bytes` is `maxMessageBytes`, `--data` is `data`), `peers` an array, plus the two
 * hooks. Unset options take the CLI's defaults; environment variables are not read.
 */
export interface StartRelayOptions {
  port?: number
  host?: string
  data?: string
  id?: string
  peers?: readonly string[]
  meshSecret?: string
  authSecret?: string
  insecureNoAuth?: boolean
  maxMessageBytes?: number
  idleMs?: number
  rateMessages?: number
  rateBytes?: number
  maxBufferedBytes?: number
  maxConnectionsPerIp?: number
  antiEntropyMs?: number
  tlsCert?: string
  tlsKey?: string
  logLevel?: string
  webhook?: string
  webhookSecret?: string
  /** Replaces JWT checks for document sockets and the HTTP API (see {@link AuthenticateHook}). */
  authenticate?: AuthenticateHook
  /** Runs after each update is durable (see {@link ChangeHook}). */
  onChange?: ChangeHook
}

/** A relay running in this process. */
export interface RunningRelay {
  /** `ws://HOST:PORT` (`wss://` with TLS), with the real port. */
  readonly url: string
  readonly port: number
  /** The relay id (`id`, or derived from the data directory). */
  readonly id: string
  /**
   * Stops as SIGTERM stops the CLI: refuses new sockets, commits and ACKs every pending write,
   * closes sockets with 1001, closes the store. Idempotent.
   */
  close(): Promise<void>
}

const HOOKS = new Set(['authenticate', 'onChange'])

function usage(message: string, cause?: unknown): RhizomeError {
  return new RhizomeError(ErrorCode.USAGE, message, cause === undefined ? {} : { cause })
}

/** `maxMessageBytes` -> `--max-message-bytes`; `data` -> `--data`. */
function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
}

/**
 * The options as the CLI's arguments, so that they are checked by exactly the CLI's rules and
 * refused with its messages. `--name=value` keeps a value that starts with `--` a value.
 */
function toArgv(options: StartRelayOptions): string[] {
  const argv: string[] = []
  for (const [key, value] of Object.entries(options)) {
    if (HOOKS.has(key) || value === undefined || value === null) continue
    const flag = flagOf(key)
    if (key === 'peers') {
      if (!Array.isArray(value) || !value.every((u) => typeof u === 'string' && !u.includes(',')))
        throw usage(`--peers (peers) must be an array of ws:// or wss:// URLs`)
      if (value.length > 0) argv.push(`${flag}=${value.join(',')}`)
    } else if (typeof value === 'boolean') {
      if (value) argv.push(flag)
    } else {
      argv.push(`${flag}=${String(value)}`)
    }
  }
  return argv
}

/**
 * Starts a relay in this process (docs/PROTOCOL.md section 10) and resolves once its store is open
 * and it listens. The app owns the process: no signal handlers are installed, call `close()`.
 * @throws RhizomeError USAGE for a bad option, with the one-line message the CLI prints (naming
 *   the option), for a data directory in use, and for a port or host it cannot listen on.
 * @throws TypeError when `authenticate` or `onChange` is given and not a function.
 */
export async function startRelay(options: StartRelayOptions = {}): Promise<RunningRelay> {
  for (const hook of HOOKS) {
    const fn = (options as Record<string, unknown>)[hook]
    if (fn !== undefined && typeof fn !== 'function')
      throw new TypeError(`startRelay: ${hook} must be a function`)
  }
  const parsed = parseRelayOptions(toArgv(options), {}, { authenticate: options.authenticate !== undefined })
  if (options.authenticate) parsed.authenticate = options.authenticate
  if (options.onChange) parsed.onChange = options.onChange
  const relay = new Relay(parsed)
  try {
    await relay.start()
  } catch (err) {
    // The store may be open already: release the data directory for the next attempt.
    await relay.stop().catch(() => {})
    const code = (err as { code?: string }).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw usage(`--port/--host: cannot listen (${code})`, err)
    throw err
  }
  let closing: Promise<void> | null = null
  return {
    url: relay.url,
    port: relay.port,
    id: relay.id,
    close: () => {
      closing ??= relay.stop().finally(() => relay.log.flush?.())
      return closing
    },
  }
}
