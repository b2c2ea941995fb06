import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeSyncUpdate } from '@rhizome/protocol'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { catalog } from '../../test/support/catalog.mjs'
import { eventually } from '../../test/support/poll.mjs'
import { RELAY_CLI, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { parseRelayOptions } from '../src/options.js'
import { stockProvider, whenSynced } from './support/providers.js'
import { rawUpgradeStatus } from './support/rawUpgrade.js'
import { WireClient } from './support/WireClient.js'

afterEach(stopAllRelays)

const scratch = mkdtempSync(join(tmpdir(), 'rhizome-options-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const SECRET = 'options-secret-93b1e7-never-print-me'

/** Runs the relay CLI to completion (it must exit on its own) and returns what it printed. */
function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const dataDir = mkdtempSync(join(scratch, 'data-'))
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [RELAY_CLI, '--port', '0', '--data', dataDir, ...args],
      { env: { ...process.env, RHIZOME_LOG_LEVEL: 'warn', ...env }, encoding: 'utf8', timeout: 15_000 },
      (err, stdout, stderr) => {
        const status = err ? (typeof err.code === 'number' ? err.code : null) : 0
        if (err && status === null) reject(err)
        else resolve({ status, stdout, stderr })
      },
    )
  })
}

describe('bad options', () => {
  it.concurrent.each<[string, string[], Record<string, string>, string]>([
    ['a non-numeric port', ['--port', 'abc'], {}, '--port'],
    ['a port out of range', ['--port', '70000'], {}, '--port'],
    ['a bad port in the environment', [], { RHIZOME_PORT: 'x1' }, 'RHIZOME_PORT'],
    ['an unknown option', ['--bogus'], {}, '--bogus'],
    ['a missing value', ['--max-message-bytes'], {}, '--max-message-bytes'],
    ['a value swallowing the next option', ['--data', '--port', '1'], {}, '--data'],
    ['a negative rate', ['--rate-messages', '-1'], {}, '--rate-messages'],
    ['a tiny frame limit', ['--max-message-bytes', '1'], {}, '--max-message-bytes'],
    ['a value on a flag', ['--insecure-no-auth=yes'], {}, '--insecure-no-auth'],
    ['a peer that is not ws://', ['--peers', 'http://127.0.0.1:1'], {}, '--peers'],
    ['an unknown log level', ['--log-level', 'loud'], {}, '--log-level'],
    ['a certificate without a key', ['--tls-cert', '/nonexistent/cert.pem'], {}, '--tls-key'],
    [
      'an unreadable certificate',
      ['--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'],
      {},
      '--tls-cert',
    ],
    ['a public interface without auth', ['--host', '0.0.0.0'], {}, '--host'],
    [
      'peers on a public interface without a mesh secret',
      ['--host', '0.0.0.0', '--auth-secret', SECRET, '--peers', 'ws://10.0.0.1:4440'],
      {},
      '--mesh-secret',
    ],
    [
      'peers with client tokens but no mesh secret',
      ['--auth-secret', SECRET, '--peers', 'ws://127.0.0.1:1'],
      {},
      '--mesh-secret',
    ],
    ['a bad option next to a secret', ['--auth-secret', SECRET, '--idle-ms', 'soon'], {}, '--idle-ms'],
    ['peers on loopback without a mesh secret', ['--peers', 'ws://127.0.0.1:1'], {}, '--mesh-secret'],
    [
      'peers from the environment without a mesh secret',
      [],
      { RHIZOME_PEERS: 'ws://127.0.0.1:1' },
      '--mesh-secret',
    ],
    ['a non-numeric outbound budget', ['--max-outbound-bytes', '512M'], {}, '--max-outbound-bytes'],
    [
      'a tiny per-IP outbound budget',
      ['--max-outbound-bytes-per-ip', '10'],
      {},
      '--max-outbound-bytes-per-ip',
    ],
    ['a negative new-document budget', ['--max-new-docs-per-minute', '-5'], {}, '--max-new-docs-per-minute'],
  ])('refuses %s: one line on stderr naming the option, exit 2', async (_what, args, env, option) => {
    const { status, stdout, stderr } = await runCli(args, env)
    expect(status).toBe(2)
    expect(stdout).toBe('')
    expect(stderr.endsWith('\n')).toBe(true)
    expect(stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/^rhizome-relay: /)
    expect(stderr).toContain(option)
    expect(stderr).not.toContain(SECRET)
  })

  // Red-team finding 8: RHIZOME_AUTH_SECRET="" silently turned auth off, a 1-byte secret was
  // accepted, and a loopback relay without a mesh secret took any local process as a peer.
  it.concurrent.each<[string, string[], Record<string, string>, string]>([
    [
      'an empty auth secret in the environment',
      [],
      { RHIZOME_AUTH_SECRET: '' },
      'RHIZOME_AUTH_SECRET (--auth-secret) is empty: give a secret of at least 16 bytes',
    ],
    [
      'a 1-byte auth secret',
      ['--auth-secret', 'x'],
      {},
      '--auth-secret is too short (1 bytes): give a secret of at least 16 bytes',
    ],
    [
      'an empty auth secret after =',
      ['--auth-secret='],
      {},
      '--auth-secret is empty: give a secret of at least 16 bytes',
    ],
    [
      'a 15-byte mesh secret',
      ['--mesh-secret', 'fifteen-bytes-x'],
      {},
      '--mesh-secret is too short (15 bytes): give a secret of at least 16 bytes',
    ],
    [
      'a mesh secret of 7 characters, 14 bytes (length counts UTF-8 bytes)',
      ['--mesh-secret', 'ééééééé'],
      {},
      '--mesh-secret is too short (14 bytes): give a secret of at least 16 bytes',
    ],
    [
      'an empty mesh secret in the environment next to peers',
      ['--peers', 'ws://127.0.0.1:1'],
      { RHIZOME_MESH_SECRET: '' },
      'RHIZOME_MESH_SECRET (--mesh-secret) is empty: give a secret of at least 16 bytes',
    ],
    [
      'a short mesh secret in the environment',
      [],
      { RHIZOME_MESH_SECRET: 'short' },
      'RHIZOME_MESH_SECRET (--mesh-secret) is too short (5 bytes): give a secret of at least 16 bytes',
    ],
    [
      'peers without a mesh secret',
      ['--peers', 'ws://127.0.0.1:1'],
      {},
      '--mesh-secret is required with --peers',
    ],
  ])('refuses %s with exactly one error line and exit 2', async (_what, args, env, line) => {
    const { status, stdout, stderr } = await runCli(args, env)
    expect(stdout).toBe('')
    expect(stderr).toBe(`rhizome-relay: ${line}\n`)
    expect(status).toBe(2)
  })

  it('accepts secrets of 16 bytes, from the command line and the environment', async () => {
    const relay = await startRelay({
      args: ['--auth-secret', 'sixteen-bytes-ok'],
      env: { RHIZOME_MESH_SECRET: 'éééééééé' /* 8 characters, 16 bytes */ },
    })
    expect((await fetch(`${relay.httpUrl}/healthz`)).status).toBe(200)
  })

  it('refuses a data directory another relay holds, and a port in use, with exit 2', async () => {
    const relay = await startRelay()
    const locked = spawnSync(process.execPath, [RELAY_CLI, '--port', '0', '--data', relay.dataDir], {
      encoding: 'utf8',
      timeout: 15_000,
    })
    expect(locked.status).toBe(2)
    expect(locked.stderr).toContain('--data')
    const taken = await runCli(['--port', String(relay.port)])
    expect(taken.status).toBe(2)
    expect(taken.stderr).toContain('--port')
  })

  it('prints usage for --help and exits 0', async () => {
    const { status, stdout } = await runCli(['--help'])
    expect(status).toBe(0)
    expect(stdout).toContain('--max-message-bytes')
    for (const option of ['--max-outbound-bytes', '--max-outbound-bytes-per-ip', '--max-new-docs-per-minute'])
      expect(stdout).toContain(option)
  })

  it('serves anonymous clients on a public interface only with --insecure-no-auth', async () => {
    const relay = await startRelay({ args: ['--host', '0.0.0.0', '--insecure-no-auth'] })
    const p = stockProvider(relay.url, 'public/doc')
    await whenSynced(p)
  })
})

describe('resource budgets', () => {
  it('parses --max-outbound-bytes, --max-outbound-bytes-per-ip and --max-new-docs-per-minute, with defaults', () => {
    const defaults = parseRelayOptions([])
    expect(defaults.maxOutboundBytes).toBe(512 * 1024 * 1024)
    expect(defaults.maxOutboundBytesPerIp).toBe(128 * 1024 * 1024)
    expect(defaults.maxNewDocsPerMinute).toBe(600)
    const set = parseRelayOptions([
      '--max-outbound-bytes=8388608',
      '--max-outbound-bytes-per-ip',
      '4194304',
      '--max-new-docs-per-minute',
      '0',
    ])
    expect(set.maxOutboundBytes).toBe(8388608)
    expect(set.maxOutboundBytesPerIp).toBe(4194304)
    expect(set.maxNewDocsPerMinute).toBe(0)
  })
})

describe('connection limits', () => {
  it('refuses upgrades past --max-connections-per-ip with HTTP 429 until a socket closes', async () => {
    const relay = await startRelay({ args: ['--max-connections-per-ip', '3'] })
    const open = await Promise.all([1, 2, 3].map((i) => WireClient.open(relay.url, `limit/${i}`)))
    expect(await rawUpgradeStatus(relay.port, '/limit/4')).toBe(429)
    open[0]!.close()
    await eventually(async () => (await rawUpgradeStatus(relay.port, '/limit/4')) === 101, {
      what: 'a slot freed by the closed socket',
    })
    for (const c of open) c.close()
  })

  it('counts /_mesh sockets that have not finished their handshake against the same limit', async () => {
    const relay = await startRelay({
      args: ['--max-connections-per-ip', '2', '--mesh-secret', 'limit-mesh-secret'],
    })
    const meshes = await Promise.all([1, 2].map(() => WireClient.open(relay.url, '', { rawPath: '_mesh' })))
    expect(await rawUpgradeStatus(relay.port, '/_mesh')).toBe(429)
    expect(await rawUpgradeStatus(relay.port, '/limit/doc')).toBe(429)
    for (const c of meshes) c.close()
    await eventually(async () => (await rawUpgradeStatus(relay.port, '/limit/doc')) === 101, {
      what: 'slots freed',
    })
  })
})

function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version']).status === 0
}

describe.runIf(hasOpenssl())('TLS', () => {
  /** A self-signed certificate for 127.0.0.1, generated per run. */
  function selfSigned(): { cert: string; key: string; pem: Buffer } {
    const dir = mkdtempSync(join(scratch, 'tls-'))
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    )
    return { cert, key, pem: readFileSync(cert) }
  }

  function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      request(url, { ca }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
        .on('error', reject)
        .end()
    })
  }

  it('serves https:// and wss:// with --tls-cert/--tls-key, and replicates to a wss:// peer', async () => {
    const { cert, key, pem } = selfSigned()
    const a = await startRelay({ args: ['--tls-cert', cert, '--tls-key', key] })
    expect(a.url).toMatch(/^wss:\/\//)
    const health = await httpsGet(`${a.httpUrl}/healthz`, pem)
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body).ok).toBe(true)
    expect((await httpsGet(`${a.httpUrl}/metrics`, pem)).body).toContain('rhizome_connections')

    // Plain ws:// and an untrusted certificate are both refused.
    await expect(rawUpgradeStatus(a.port, '/tls/doc')).rejects.toThrow()
    const untrusted = new WireClient(a.url, 'tls/doc')
    expect(await untrusted.opened).toBe(false)

    // A stock client over wss:// with the certificate trusted.
    class TrustingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { ca: pem })
      }
    }
    const doc = new Y.Doc()
    const { WebsocketProvider } = await import('y-websocket')
    const p = new WebsocketProvider(a.url, 'tls/doc', doc, {
      WebSocketPolyfill: TrustingWebSocket as never,
      disableBc: true,
    })
    try {
      await whenSynced(p)
      const writer = await WireClient.open(a.url, 'tls/doc', { ws: { ca: pem } })
      const w = new Y.Doc()
      w.getText('t').insert(0, 'over tls')
      writer.send(encodeSyncUpdate(Y.encodeStateAsUpdate(w)))
      await eventually(() => doc.getText('t').toString() === 'over tls', { what: 'update over wss' })
      await writer.waitFor('ack')
      writer.close()
    } finally {
      p.destroy()
    }

    // A peer dialing wss:// (trusting the certificate through NODE_EXTRA_CA_CERTS) replicates.
    const b = await startRelay({ peers: [a.url], env: { NODE_EXTRA_CA_CERTS: cert } })
    await eventually(async () => (await catalog(b.httpUrl)).has('tls/doc'), {
      what: 'tls/doc on the wss peer',
    })
  })

  it('refuses a certificate file that is not PEM with exit 2', async () => {
    const bad = join(scratch, 'bad.pem')
    writeFileSync(bad, 'not a certificate')
    const { status, stderr } = await runCli(['--tls-cert', bad, '--tls-key', bad])
    expect(status).toBe(2)
    expect(stderr).toContain('--tls-cert')
  })
})

describe.skipIf(hasOpenssl())('TLS (skipped)', () => {
  it('needs openssl to generate a self-signed certificate', () => {
    console.warn('openssl not found: TLS tests skipped')
    expect(hasOpenssl()).toBe(false)
  })
})
