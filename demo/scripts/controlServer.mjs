import { createServer } from 'node:http'
import { relayCatalogs } from './relayCatalogs.mjs'
import { serveRelayDocApi } from './relayDocApi.mjs'

/**
 * The supervisor's control endpoint, for the demo's chaos panel (through the Vite proxy at /api).
 *
 * Safety: it listens on 127.0.0.1 only, accepts only loopback Host headers (no DNS rebinding),
 * and every action is a POST carrying `x-rhizome-demo: 1`. A page on another origin cannot send
 * that header without a CORS preflight, which this server never approves, so a website open in
 * the same browser cannot kill the relays.
 *
 * Routes:
 * - `GET  /api/state`                      relays (process state, health), recent events
 * - `GET  /api/catalogs?prefix=P`          each relay's `/docs` digests of the names starting with P
 * - `POST /api/relays/:n/kill|wipe|restart` one relay (1-based)
 * - `POST /api/outage`                     kill and wipe every relay ("the 2009 outage")
 * - `POST /api/restart-all`                start every relay that is down
 * - `/api/history`, `/api/version`, `/api/revert`, `/api/doc` a note's history, revert and delete
 *   through the relays' document API (see relayDocApi.mjs)
 *
 * @param {import('./RelaySupervisor.mjs').RelaySupervisor} supervisor
 * @param {{ port: number, info: () => object }} options
 * @returns {Promise<import('node:http').Server>}
 */
export function startControlServer(supervisor, { port, info }) {
  // Actions run one at a time: a double click must not wipe a disk under a starting relay.
  let queue = Promise.resolve()
  const serially = (action) => {
    const run = queue.then(action)
    queue = run.catch(() => {})
    return run
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      send(res, 500, { error: 'INTERNAL', message: err instanceof Error ? err.message : String(err) })
    })
  })

  async function handle(req, res) {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '')
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      send(res, 403, { error: 'FORBIDDEN', message: 'loopback only' })
      return
    }
    const path = new URL(req.url ?? '/', 'http://control').pathname
    if (req.method === 'GET' && path === '/api/state') {
      send(res, 200, { ...info(), ...(await supervisor.snapshot()) })
      return
    }
    if (req.method === 'GET' && path === '/api/catalogs') {
      const prefix = new URL(req.url ?? '/', 'http://control').searchParams.get('prefix') ?? ''
      send(res, 200, { relays: await relayCatalogs(supervisor, prefix) })
      return
    }
    if (await serveRelayDocApi(supervisor, req, res, new URL(req.url ?? '/', 'http://control'))) return
    if (req.method !== 'POST') {
      send(res, 405, { error: 'METHOD', message: 'GET /api/state or POST an action' })
      return
    }
    if (req.headers['x-rhizome-demo'] !== '1') {
      send(res, 403, { error: 'FORBIDDEN', message: 'missing x-rhizome-demo header' })
      return
    }
    req.resume()
    const relayAction = /^\/api\/relays\/(\d+)\/(kill|wipe|restart)$/.exec(path)
    if (relayAction) {
      const relay = supervisor.relay(Number(relayAction[1]))
      if (relay === undefined) {
        send(res, 404, { error: 'NOT_FOUND', message: `no relay ${relayAction[1]}` })
        return
      }
      const verb = relayAction[2]
      await serially(() => supervisor[verb](relay))
    } else if (path === '/api/outage') {
      await serially(() => supervisor.outage())
    } else if (path === '/api/restart-all') {
      await serially(() => supervisor.restartAll())
    } else {
      send(res, 404, { error: 'NOT_FOUND', message: `no action ${path}` })
      return
    }
    send(res, 200, await supervisor.snapshot())
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

function send(res, status, body) {
  if (res.headersSent) return
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}
