// Launchers for the benchmarked servers, each a real process on 127.0.0.1 and a free port:
// Rhizome's relay CLI, @y/websocket-server (with and without y-leveldb persistence) and Hocuspocus
// with its SQLite extension. Every process gets the same event-loop probe.
import { spawn } from 'node:child_process'
import { readFileSync, realpathSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const ROOT = join(here, '../../..')
export const RELAY_CLI = join(ROOT, 'server/dist/cli.js')
const require = createRequire(join(ROOT, 'test/package.json'))
export const YWS_DIR = dirname(require.resolve('@y/websocket-server/package.json'))
const PROBE = join(here, 'eldProbe.mjs')
const HOCUSPOCUS = join(here, '../peers/hocuspocus.mjs')
/** Shared by every benchmarked relay: a mesh link needs a secret of at least 16 bytes. */
const MESH_SECRET = 'rhizome-bench-mesh-secret-5d1e'

/** Display names of the server kinds. */
export const LABEL = {
  rhizome: 'Rhizome',
  'yws-leveldb': '@y/websocket-server + y-leveldb',
  yws: '@y/websocket-server (memory)',
  hocuspocus: 'Hocuspocus + SQLite',
}

/** Wire protocol the load generator speaks to each kind. */
export const PROTOCOL = { rhizome: 'yws', 'yws-leveldb': 'yws', yws: 'yws', hocuspocus: 'hocuspocus' }

const temps = []
const live = new Set()

/** A temp directory removed by `cleanup()`. */
export async function tempDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), `rhizome-bench-${prefix}-`))
  temps.push(dir)
  return dir
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/**
 * Starts a server of `kind` and resolves once it listens.
 * @param {'rhizome'|'yws'|'yws-leveldb'|'hocuspocus'} kind
 * @param {{ data?: string, args?: string[], peers?: string[], profile?: string }} options
 *   `data`: data directory (rhizome, yws-leveldb) or SQLite file (hocuspocus); `profile`: a
 *   directory for `node --cpu-prof`.
 */
export async function startServer(kind, options = {}) {
  const eldFile = join(await tempDir('eld'), 'eld.json')
  const nodeArgs = ['--import', PROBE]
  if (options.profile) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.profile)
  const env = { ...process.env, BENCH_ELD_FILE: eldFile }
  let args
  let port = 0
  let data = options.data
  if (kind === 'rhizome') {
    data ??= await tempDir('relay')
    args = [RELAY_CLI, '--port', '0', '--data', data, '--log-level', 'warn', ...(options.args ?? [])]
    if (!args.includes('--mesh-secret')) args.push('--mesh-secret', MESH_SECRET)
    if (options.peers?.length) args.push('--peers', options.peers.join(','))
  } else if (kind === 'yws' || kind === 'yws-leveldb') {
    port = await freePort()
    args = [join(YWS_DIR, 'src/server.js')]
    env.HOST = '127.0.0.1'
    env.PORT = String(port)
    delete env.YPERSISTENCE
    if (kind === 'yws-leveldb') {
      data ??= await tempDir('yleveldb')
      env.YPERSISTENCE = data
    }
  } else if (kind === 'hocuspocus') {
    data ??= join(await tempDir('hocuspocus'), 'db.sqlite')
    args = [HOCUSPOCUS, '--data', data, ...(options.args ?? [])]
  } else {
    throw new TypeError(`unknown server kind ${kind}`)
  }
  const t0 = performance.now()
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: join(ROOT, 'test'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log = []
  child.stderr.setEncoding('utf8').on('data', (s) => log.push(s))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
  const url = await new Promise((resolve, reject) => {
    let buffered = ''
    const onExit = (code) =>
      reject(new Error(`${kind} exited with ${code} before listening:\n${log.join('')}`))
    child.once('exit', onExit)
    child.stdout.setEncoding('utf8').on('data', (s) => {
      buffered += s
      log.push(s)
      const m =
        /listening on (ws:\/\/[\d.]+:\d+)/.exec(buffered) ??
        (/running at '127.0.0.1' on port (\d+)/.test(buffered) ? [null, `ws://127.0.0.1:${port}`] : null)
      if (m) {
        child.off('exit', onExit)
        resolve(m[1])
      }
    })
  })
  const server = {
    kind,
    label: LABEL[kind],
    protocol: PROTOCOL[kind],
    url,
    httpUrl: url.replace('ws://', 'http://'),
    data,
    pid: child.pid,
    child,
    log,
    startMs: performance.now() - t0,
    /** Event-loop delay of the server process since it started. */
    eventLoop() {
      try {
        return JSON.parse(readFileSync(eldFile, 'utf8'))
      } catch {
        return null
      }
    },
    /** SIGTERM (graceful: flushes and, with `--cpu-prof`, writes the profile). */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
      live.delete(server)
    },
  }
  live.add(server)
  return server
}

/** Stops every server still running and (unless `keepTemp`) removes temp directories. */
export async function cleanup({ keepTemp = false } = {}) {
  await Promise.all([...live].map((s) => s.stop()))
  if (keepTemp) return
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}

/** Versions of the software under test, read from the installed packages' package.json files. */
export function versions() {
  // Packages' own `exports` may hide package.json from require.resolve: read the files directly.
  const v = (dir) => {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
    } catch {
      return 'unknown'
    }
  }
  const mod = (base, name) => realpathSync(join(base, name))
  const testModules = join(ROOT, 'test/node_modules')
  const ywsModules = join(realpathSync(YWS_DIR), '../..')
  const hpSqlite = mod(testModules, '@hocuspocus/extension-sqlite')
  return {
    node: process.version,
    yjs: v(mod(testModules, 'yjs')),
    ws: v(mod(join(ROOT, 'server/node_modules'), 'ws')),
    '@y/websocket-server': v(YWS_DIR),
    'y-leveldb (used by @y/websocket-server)': v(join(ywsModules, 'y-leveldb')),
    'ws (used by @y/websocket-server)': v(join(ywsModules, 'ws')),
    'y-leveldb': v(mod(testModules, 'y-leveldb')),
    '@hocuspocus/server': v(mod(testModules, '@hocuspocus/server')),
    '@hocuspocus/extension-sqlite': v(hpSqlite),
    'better-sqlite3': v(join(hpSqlite, '../../better-sqlite3')),
    'classic-level': v(mod(join(ROOT, 'server/node_modules'), 'classic-level')),
  }
}
