#!/usr/bin/env node
// `pnpm start`: builds the packages, starts three meshed relays, the supervisor's control
// endpoint and the demo app (Vite), and prints the URL to open. Ctrl-C stops everything.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer as createNetServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startControlServer } from './controlServer.mjs'
import { RelaySupervisor } from './RelaySupervisor.mjs'

const DEMO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ROOT = resolve(DEMO, '..')
const RELAY_CLI = join(ROOT, 'server/dist/cli.js')

const USAGE = `Usage: pnpm start [options]   (or: node demo/scripts/start.mjs [options])

  --relay-ports A,B,C  ports of the three relays       (env RHIZOME_DEMO_RELAY_PORTS, default 4441,4442,4443)
  --control-port P     supervisor control endpoint     (env RHIZOME_DEMO_CONTROL_PORT, default 4449)
  --web-port P         the demo app                    (env RHIZOME_DEMO_WEB_PORT, default 5173)
  --free-ports         pick free ports for all of the above (tests)
  --data DIR           relay data, DIR/relay-1..3      (env RHIZOME_DEMO_DATA, default ./data)
  --preview            serve a production build instead of the Vite dev server
  --no-build           skip \`pnpm build\` of the packages (they must be built already)
  --relay-log-level L  relay log level                 (default warn)
`

function fail(message) {
  process.stderr.write(`rhizome-demo: ${message}\n`)
  process.exit(1)
}

function parseOptions() {
  let values
  try {
    ;({ values } = parseArgs({
      // `pnpm start -- --flag` hands the script a leading `--`.
      args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
      options: {
        'relay-ports': { type: 'string' },
        'control-port': { type: 'string' },
        'web-port': { type: 'string' },
        'free-ports': { type: 'boolean', default: false },
        data: { type: 'string' },
        preview: { type: 'boolean', default: false },
        'no-build': { type: 'boolean', default: false },
        'relay-log-level': { type: 'string', default: 'warn' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }))
  } catch (err) {
    fail(`${err.message}\n\n${USAGE}`)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const port = (raw, what) => {
    const n = Number(raw)
    if (!/^\d+$/.test(String(raw)) || n < 1 || n > 65535) fail(`${what} must be a port number, got '${raw}'`)
    return n
  }
  const free = values['free-ports']
  const relayPorts = (values['relay-ports'] ?? process.env.RHIZOME_DEMO_RELAY_PORTS ?? '4441,4442,4443')
    .split(',')
    .map((p) => port(p.trim(), '--relay-ports'))
  if (relayPorts.length !== 3) fail(`--relay-ports needs three ports, got ${relayPorts.length}`)
  return {
    relayPorts: free ? [0, 0, 0] : relayPorts,
    controlPort: free
      ? 0
      : port(values['control-port'] ?? process.env.RHIZOME_DEMO_CONTROL_PORT ?? 4449, '--control-port'),
    webPort: free ? 0 : port(values['web-port'] ?? process.env.RHIZOME_DEMO_WEB_PORT ?? 5173, '--web-port'),
    dataRoot: resolve(ROOT, values.data ?? process.env.RHIZOME_DEMO_DATA ?? 'data'),
    preview: values.preview,
    build: !values['no-build'],
    relayLogLevel: values['relay-log-level'],
  }
}

/** Binds `port` on 127.0.0.1 (0: any free port) and releases it; resolves with the port. */
/**
 * Claims a port to check that it is free. `0` (with --free-ports) draws from below Linux's ephemeral
 * range (32768-60999): relays are restarted on their port, and an ephemeral port can meanwhile be
 * taken as the local port of some outgoing connection.
 */
async function claimPort(port) {
  if (port !== 0) return claimExactPort(port)
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000)
    try {
      return await claimExactPort(candidate)
    } catch {}
  }
  return claimExactPort(0)
}

function claimExactPort(port) {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const claimed = server.address().port
      server.close(() => resolvePort(claimed))
    })
  })
}

async function checkPorts(named) {
  const result = {}
  const taken = []
  for (const [name, port] of Object.entries(named)) {
    try {
      result[name] = await claimPort(port)
    } catch (err) {
      if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') throw err
      taken.push(`${port} (${name})`)
    }
  }
  if (taken.length > 0) {
    fail(
      `port ${taken.join(', ')} ${taken.length > 1 ? 'are' : 'is'} taken on 127.0.0.1. ` +
        'Is another `pnpm start` running? Stop it, or choose other ports, e.g.\n' +
        '  pnpm start --relay-ports 5441,5442,5443 --control-port 5449 --web-port 5174',
    )
  }
  return result
}

function run(command, args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit' })
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    )
  })
}

async function main() {
  const options = parseOptions()
  const ports = await checkPorts({
    'relay-1': options.relayPorts[0],
    'relay-2': options.relayPorts[1],
    'relay-3': options.relayPorts[2],
    control: options.controlPort,
    web: options.webPort,
  })

  if (options.build) {
    process.stdout.write('rhizome-demo: building the packages (pnpm build)…\n')
    await run('pnpm', ['build'])
  }
  if (!existsSync(RELAY_CLI)) fail(`${RELAY_CLI} is missing; run \`pnpm build\` first`)
  await mkdir(options.dataRoot, { recursive: true })

  const supervisor = new RelaySupervisor({
    ports: [ports['relay-1'], ports['relay-2'], ports['relay-3']],
    dataRoot: options.dataRoot,
    cli: RELAY_CLI,
    logLevel: options.relayLogLevel,
  })
  // Whatever way this process ends (an error included), no relay outlives it.
  process.on('exit', () => supervisor.killAllNow())

  /** @type {{ close(): Promise<void> } | null} */
  let web = null
  /** @type {import('node:http').Server | null} */
  let control = null
  let stopping = false
  const shutdown = async (signal) => {
    if (stopping) {
      // A second Ctrl-C: stop waiting for graceful exits.
      supervisor.killAllNow()
      process.exit(0)
    }
    stopping = true
    process.stdout.write(`\nrhizome-demo: ${signal}, stopping the app, the supervisor and the relays…\n`)
    const force = setTimeout(() => {
      supervisor.killAllNow()
      process.exit(0)
    }, 10_000)
    force.unref()
    await Promise.allSettled([
      web?.close(),
      new Promise((r) => (control ? control.close(r) : r())),
      supervisor.stopAll(),
    ])
    control?.closeAllConnections()
    process.stdout.write('rhizome-demo: stopped. Relay data stays in ' + options.dataRoot + '\n')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGHUP', () => void shutdown('SIGHUP'))

  try {
    await supervisor.startAll()
  } catch (err) {
    supervisor.killAllNow()
    fail(err.message)
  }

  const controlUrl = `http://127.0.0.1:${ports.control}`
  const webUrl = `http://127.0.0.1:${ports.web}/`
  control = await startControlServer(supervisor, {
    port: ports.control,
    info: () => ({ web: webUrl, relayUrls: supervisor.relays.map((r) => r.url), dataRoot: options.dataRoot }),
  })

  // Vite comes from demo's own dependencies; imported here so `pnpm start --help` stays instant.
  const vite = await import('vite')
  const configFile = join(DEMO, 'vite.config.ts')
  const serverOptions = {
    host: '127.0.0.1',
    port: ports.web,
    strictPort: true,
    proxy: { '/api': { target: controlUrl } },
  }
  if (options.preview) {
    process.stdout.write('rhizome-demo: building the app (vite build)…\n')
    await vite.build({ configFile, root: DEMO, logLevel: 'warn' })
    const server = await vite.preview({ configFile, root: DEMO, logLevel: 'warn', preview: serverOptions })
    web = { close: () => server.close() }
  } else {
    const server = await vite.createServer({
      configFile,
      root: DEMO,
      logLevel: 'warn',
      server: serverOptions,
    })
    await server.listen()
    web = { close: () => server.close() }
  }

  const line = '─'.repeat(64)
  process.stdout.write(
    `${line}\n` +
      `  Rhizome demo is running. Open  ${webUrl}\n` +
      '  (open it in two browser windows, or on two devices, to collaborate)\n\n' +
      supervisor.relays.map((r) => `  ${r.id}  ${r.url}   data: ${r.dataDir}\n`).join('') +
      `  supervisor control endpoint  ${controlUrl}  (loopback only)\n` +
      `  Ctrl-C stops everything; the data stays for the next run.\n${line}\n`,
  )
  // One machine-readable line for tests and scripts.
  process.stdout.write(
    `rhizome-demo ready ${JSON.stringify({ web: webUrl, control: controlUrl, relays: supervisor.relays.map((r) => r.url) })}\n`,
  )
}

main().catch((err) => {
  process.stderr.write(`rhizome-demo: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
