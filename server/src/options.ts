import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import type { ChangeHook } from './changes/changeOrigin.js'
import type { AuthenticateHook } from './connections/Authorizer.js'
import { checkSecret } from './secrets.js'

/** Everything a relay can be configured with; the CLI maps docs/PROTOCOL.md section 1 onto it. */
export interface RelayOptions {
  port: number
  host: string
  dataDir: string
  /** Stable relay id; derived from the data directory's store id when absent. */
  id?: string
  peers: string[]
  meshSecret?: string
  authSecret?: string
  insecureNoAuth: boolean
  maxMessageBytes: number
  /** A loaded document with no client is flushed and evicted after this long. */
  idleMs: number
  /** Per-socket token bucket: sustained messages per second (burst = 2x); 0 disables. */
  rateMessages: number
  /** Per-socket token bucket: sustained bytes per second (burst = 2x); 0 disables. */
  rateBytes: number
  /** Outbound bytes a socket may have queued before it is closed as a slow reader. */
  maxBufferedBytes: number
  /** Concurrent WebSocket connections from one IP address. */
  maxConnectionsPerIp: number
  /** Unsent outbound bytes of all client sockets together; past it the newest holders are closed. */
  maxOutboundBytes: number
  /** Unsent outbound bytes of the client sockets of one IP address. */
  maxOutboundBytesPerIp: number
  /** New documents (neither stored nor loaded) one token or anonymous IP may open per minute; 0 disables. */
  maxNewDocsPerMinute: number
  /** Interval of the periodic anti-entropy pass with each peer. */
  antiEntropyMs: number
  /** How long each document's history and each tombstone are kept (docs/PROTOCOL.md section 9). */
  historyMs: number
  /** Interval between passes of the background scrubber (the first 10 min after start, or this when shorter); 0 = never. */
  scrubIntervalMs: number
  /** LevelDB block cache, bytes. */
  dbCacheBytes: number
  /** Files LevelDB keeps open (tables are memory-mapped while open); at least 74 in effect. */
  dbMaxOpenFiles: number
  tlsCert?: string
  tlsKey?: string
  logLevel: string
  /** `--webhook`: receiver of change notifications (docs/PROTOCOL.md section 10). */
  webhook?: string
  /** `--webhook-secret`: HMAC key of the webhook signature; required with `webhook`. */
  webhookSecret?: string
  /** Embedding only (`startRelay`): replaces JWT checks. */
  authenticate?: AuthenticateHook
  /** Embedding only (`startRelay`): runs after each update is durable. */
  onChange?: ChangeHook
}

export const DEFAULT_PORT = 4440
const MiB = 1024 * 1024

/** Defaults of every option. */
export function defaultRelayOptions(): RelayOptions {
  return {
    port: DEFAULT_PORT,
    host: '127.0.0.1',
    dataDir: './data/relay',
    peers: [],
    insecureNoAuth: false,
    maxMessageBytes: 16 * MiB,
    idleMs: 30_000,
    rateMessages: 10_000,
    rateBytes: 64 * MiB,
    maxBufferedBytes: 32 * MiB,
    maxConnectionsPerIp: 1000,
    maxOutboundBytes: 512 * MiB,
    maxOutboundBytesPerIp: 128 * MiB,
    maxNewDocsPerMinute: 600,
    antiEntropyMs: 60_000,
    historyMs: 30 * 24 * 60 * 60 * 1000,
    scrubIntervalMs: 24 * 60 * 60 * 1000,
    dbCacheBytes: 8 * MiB,
    dbMaxOpenFiles: 1000,
    logLevel: 'info',
  }
}

function usage(message: string): RhizomeError {
  return new RhizomeError(ErrorCode.USAGE, message)
}

type Kind = 'int' | 'string' | 'flag' | 'list' | 'host' | 'secret' | 'http-url'

interface Spec {
  key: keyof RelayOptions
  kind: Kind
  env?: string
  /** Smallest accepted integer. */
  min?: number
  max?: number
}

const specs: Record<string, Spec> = {
  '--port': { key: 'port', kind: 'int', env: 'RHIZOME_PORT', min: 0, max: 65535 },
  '--host': { key: 'host', kind: 'host', env: 'RHIZOME_HOST' },
  '--data': { key: 'dataDir', kind: 'string', env: 'RHIZOME_DATA' },
  '--id': { key: 'id', kind: 'string', env: 'RHIZOME_ID' },
  '--peers': { key: 'peers', kind: 'list', env: 'RHIZOME_PEERS' },
  '--mesh-secret': { key: 'meshSecret', kind: 'secret', env: 'RHIZOME_MESH_SECRET' },
  '--auth-secret': { key: 'authSecret', kind: 'secret', env: 'RHIZOME_AUTH_SECRET' },
  '--insecure-no-auth': { key: 'insecureNoAuth', kind: 'flag' },
  '--max-message-bytes': { key: 'maxMessageBytes', kind: 'int', min: 64, max: 1024 * MiB },
  '--idle-ms': { key: 'idleMs', kind: 'int', env: 'RHIZOME_IDLE_MS', min: 0 },
  '--rate-messages': { key: 'rateMessages', kind: 'int', min: 0 },
  '--rate-bytes': { key: 'rateBytes', kind: 'int', min: 0 },
  '--max-buffered-bytes': { key: 'maxBufferedBytes', kind: 'int', min: 1024 },
  '--max-connections-per-ip': { key: 'maxConnectionsPerIp', kind: 'int', min: 1 },
  '--max-outbound-bytes': { key: 'maxOutboundBytes', kind: 'int', min: 1024 },
  '--max-outbound-bytes-per-ip': { key: 'maxOutboundBytesPerIp', kind: 'int', min: 1024 },
  '--max-new-docs-per-minute': { key: 'maxNewDocsPerMinute', kind: 'int', min: 0 },
  '--anti-entropy-ms': { key: 'antiEntropyMs', kind: 'int', min: 100 },
  '--history-ms': { key: 'historyMs', kind: 'int', env: 'RHIZOME_HISTORY_MS', min: 0 },
  '--scrub-interval-ms': { key: 'scrubIntervalMs', kind: 'int', min: 0 },
  '--db-cache-bytes': { key: 'dbCacheBytes', kind: 'int', min: 0, max: 64 * 1024 * MiB },
  '--db-max-open-files': { key: 'dbMaxOpenFiles', kind: 'int', min: 16, max: 1_000_000 },
  '--tls-cert': { key: 'tlsCert', kind: 'string', env: 'RHIZOME_TLS_CERT' },
  '--tls-key': { key: 'tlsKey', kind: 'string', env: 'RHIZOME_TLS_KEY' },
  '--log-level': { key: 'logLevel', kind: 'string', env: 'RHIZOME_LOG_LEVEL' },
  '--webhook': { key: 'webhook', kind: 'http-url', env: 'RHIZOME_WEBHOOK' },
  '--webhook-secret': { key: 'webhookSecret', kind: 'secret', env: 'RHIZOME_WEBHOOK_SECRET' },
}

const levels = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])

function convert(option: string, spec: Spec, raw: string): unknown {
  switch (spec.kind) {
    case 'int': {
      if (!/^\d+$/.test(raw)) throw usage(`${option} needs a whole number, got '${raw}'`)
      const n = Number(raw)
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw usage(`${option} must be between ${spec.min ?? 0} and ${spec.max ?? 'unbounded'}, got ${raw}`)
      }
      return n
    }
    case 'list': {
      const urls = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
      for (const u of urls) {
        let parsed: URL
        try {
          parsed = new URL(u)
        } catch {
          throw usage(`${option} has an invalid URL '${u}'`)
        }
        if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
          throw usage(`${option} URLs must be ws:// or wss://, got '${u}'`)
        }
      }
      return urls
    }
    case 'host':
      if (raw === '') throw usage(`${option} needs a value`)
      return raw
    case 'secret':
      return checkSecret(option, raw)
    case 'http-url':
      return checkHttpUrl(option, raw)
    default:
      if (raw === '') throw usage(`${option} needs a value`)
      return raw
  }
}

function checkHttpUrl(option: string, raw: string): string {
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw usage(`${option} needs an http:// or https:// URL`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw usage(`${option} must be an http:// or https:// URL, got '${parsed.protocol}'`)
  }
  return raw
}

/**
 * Parses relay CLI arguments over environment variables over defaults.
 * @param embedding `authenticate`: an embedding app's hook checks every client, so a non-loopback
 *   host needs no `--auth-secret`.
 * @throws RhizomeError USAGE with a one-line message naming the offending option.
 */
export function parseRelayOptions(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  embedding: { authenticate?: boolean } = {},
): RelayOptions {
  const options = defaultRelayOptions() as unknown as Record<string, unknown>
  for (const [option, spec] of Object.entries(specs)) {
    const value = spec.env ? env[spec.env] : undefined
    // An empty secret variable is a mistake (an unset deploy secret), not "no secret": it must not
    // silently turn auth off.
    if (value !== undefined && (value !== '' || spec.kind === 'secret'))
      options[spec.key] = convert(`${spec.env} (${option})`, spec, value)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const spec = specs[name]
    if (!spec) throw usage(`unknown option '${name}'`)
    if (spec.kind === 'flag') {
      if (eq > 0) throw usage(`${name} takes no value`)
      options[spec.key] = true
      continue
    }
    let raw: string | undefined
    if (eq > 0) raw = arg.slice(eq + 1)
    else {
      raw = argv[++i]
      if (raw === undefined || (raw.startsWith('--') && specs[raw])) throw usage(`${name} needs a value`)
    }
    options[spec.key] = convert(name, spec, raw)
  }
  const result = options as unknown as RelayOptions
  if (!levels.has(result.logLevel)) throw usage(`--log-level must be one of ${[...levels].join(', ')}`)
  if ((result.tlsCert === undefined) !== (result.tlsKey === undefined)) {
    throw usage(
      `${result.tlsCert === undefined ? '--tls-cert' : '--tls-key'} is required with the other TLS option`,
    )
  }
  if (!result.meshSecret && result.peers.length > 0) {
    // A peer reads and writes every document; a link without a shared secret would accept anyone
    // who can reach the port, loopback included (docs/PROTOCOL.md section 1).
    throw usage('--mesh-secret is required with --peers')
  }
  if (result.webhook !== undefined && result.webhookSecret === undefined) {
    // An unsigned notification could be forged by anyone who can reach the receiver.
    throw usage('--webhook-secret is required with --webhook')
  }
  if (result.webhookSecret !== undefined && result.webhook === undefined) {
    throw usage('--webhook is required with --webhook-secret')
  }
  if (
    !isLoopbackHost(result.host) &&
    !result.authSecret &&
    !result.insecureNoAuth &&
    !embedding.authenticate
  ) {
    throw usage(
      `--host ${result.host} is not loopback: set --auth-secret, or --insecure-no-auth to serve anonymous clients`,
    )
  }
  return result
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** Usage text of `rhizome-relay --help`. */
export const RELAY_USAGE = `Usage: rhizome-relay [options]

  --port N                 TCP port (0 picks a free one)            [RHIZOME_PORT, 4440]
  --host H                 interface to bind                        [RHIZOME_HOST, 127.0.0.1]
  --data DIR               LevelDB directory, created if missing    [RHIZOME_DATA, ./data/relay]
  --id NAME                stable relay id                          [RHIZOME_ID, from data dir]
  --peers URL,URL          peer relays to replicate with (ws://host:port)  [RHIZOME_PEERS]
  --mesh-secret S          secret peers must prove (>= 16 bytes); required with
                           --peers, else /_mesh is closed           [RHIZOME_MESH_SECRET]
  --auth-secret S          HS256 key for client tokens (>= 16 bytes) [RHIZOME_AUTH_SECRET]
  --insecure-no-auth       allow anonymous clients on a non-loopback interface
  --max-message-bytes N    larger frames are refused with 4413      [16 MiB]
  --idle-ms N              evict a document this long after its last client left [30000]
  --rate-messages N        per-socket messages per second (0 = off) [10000]
  --rate-bytes N           per-socket bytes per second (0 = off)    [64 MiB]
  --max-buffered-bytes N   close a socket whose unsent data passes N [32 MiB]
  --max-connections-per-ip N                                        [1000]
  --max-outbound-bytes N   unsent data of all sockets; past it the newest
                           slow readers are closed (4500)           [512 MiB]
  --max-outbound-bytes-per-ip N   the same per remote IP address    [128 MiB]
  --max-new-docs-per-minute N   new documents per token (anonymous: per IP);
                           past it 4429 (0 = off)                   [600]
  --anti-entropy-ms N      periodic catalog exchange with peers     [60000]
  --history-ms N           keep each document's history this long (0 = none) [RHIZOME_HISTORY_MS, 30 days]
  --scrub-interval-ms N    background checksum scrub (first pass after 10 min or N; 0 = off) [86400000]
  --db-cache-bytes N       LevelDB block cache                      [8 MiB]
  --db-max-open-files N    LevelDB open (memory-mapped) files       [1000]
  --tls-cert FILE --tls-key FILE   serve wss:// and https://         [RHIZOME_TLS_CERT/KEY]
  --log-level L            trace|debug|info|warn|error|silent       [RHIZOME_LOG_LEVEL, info]
  --webhook URL            POST {"doc","relay","at"} here after changes are durable [RHIZOME_WEBHOOK]
  --webhook-secret S       HMAC-SHA256 key of X-Rhizome-Signature (>= 16 bytes); required
                           with --webhook                           [RHIZOME_WEBHOOK_SECRET]
`
