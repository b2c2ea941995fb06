import { demoDocName, demoMoment } from './demoDocName.mjs'

/** A relay that does not answer a history read within this is skipped for the next one. */
const READ_TIMEOUT_MS = 5_000
/** A revert or delete waits for durability on the relay (docs/PROTOCOL.md section 10: up to 10 s). */
const WRITE_TIMEOUT_MS = 15_000

/**
 * The relays' HTTP document API for the page (docs/PROTOCOL.md sections 9 and 10), which the page
 * cannot call itself: the relays' HTTP has no CORS. Only notes of the demo's namespace, only the
 * relays the supervisor runs; writes need the `x-rhizome-demo: 1` header like every other action.
 *
 * - `GET    /api/history?doc=D`              `{"doc","relay":n,"points":[{"at","bytes"}]}` from the
 *   first running relay that answers (restore points are that relay's own receive times, so the
 *   page reverts on the same relay `n`)
 * - `GET    /api/version?doc=D&at=T&relay=n` the note as relay n held it at T (one Yjs update)
 * - `POST   /api/revert?doc=D&at=T&relay=n`  revert on relay n, `{"copies":k}` once durable
 * - `DELETE /api/doc?doc=D`                  delete on the first running relay (the tombstone
 *   reaches the others through the mesh), `{"doc","deleted":true,"at"}`
 *
 * Returns false for a path it does not serve, true once it answered.
 * @param {{ relays: { n: number, httpUrl: string, state: string }[], relay(n: number): object | undefined }} supervisor
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {URL} url
 * @returns {Promise<boolean>}
 */
export async function serveRelayDocApi(supervisor, req, res, url) {
  const route = ROUTES[`${req.method} ${url.pathname}`]
  if (route === undefined) return false
  req.resume()
  if (req.method !== 'GET' && req.headers['x-rhizome-demo'] !== '1') {
    sendJson(res, 403, { error: 'FORBIDDEN', message: 'missing x-rhizome-demo header' })
    return true
  }
  const doc = demoDocName(url.searchParams.get('doc'))
  if (doc === null) {
    sendJson(res, 400, { error: 'DOC_NAME_INVALID', message: 'doc must be a note of demo/notes/' })
    return true
  }
  await route(supervisor, doc, url.searchParams, res)
  return true
}

const ROUTES = {
  'GET /api/history': async (supervisor, doc, _query, res) => {
    for (const relay of running(supervisor)) {
      const answer = await relayCall(relay, 'GET', doc, '?history=1', READ_TIMEOUT_MS)
      if (answer === null) continue
      if (answer.status !== 200) return passJson(res, answer)
      const body = await answer.json()
      return sendJson(res, 200, { doc, relay: relay.n, points: body.points })
    }
    sendJson(res, 503, { error: 'RELAY_UNAVAILABLE', message: 'no relay answered' })
  },
  'GET /api/version': async (supervisor, doc, query, res) => {
    const target = pinned(supervisor, query, res)
    if (target === null) return
    const answer = await relayCall(target.relay, 'GET', doc, `?at=${target.at}`, READ_TIMEOUT_MS)
    if (answer === null) return unavailable(res, target.relay)
    if (answer.status !== 200) return passJson(res, answer)
    const bytes = Buffer.from(await answer.arrayBuffer())
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' })
    res.end(bytes)
  },
  'POST /api/revert': async (supervisor, doc, query, res) => {
    const target = pinned(supervisor, query, res)
    if (target === null) return
    const answer = await relayCall(target.relay, 'POST', doc, `?revert=${target.at}`, WRITE_TIMEOUT_MS)
    if (answer === null) return unavailable(res, target.relay)
    passJson(res, answer)
  },
  'DELETE /api/doc': async (supervisor, doc, _query, res) => {
    const relay = running(supervisor)[0]
    if (relay === undefined)
      return sendJson(res, 503, { error: 'RELAY_UNAVAILABLE', message: 'no relay runs' })
    const answer = await relayCall(relay, 'DELETE', doc, '', WRITE_TIMEOUT_MS)
    if (answer === null) return unavailable(res, relay)
    passJson(res, answer)
  },
}

function running(supervisor) {
  return supervisor.relays.filter((r) => r.state === 'running')
}

/** The relay `relay=n` and moment `at=T` of a pinned call, or null after answering 400/503. */
function pinned(supervisor, query, res) {
  const at = demoMoment(query.get('at'))
  const n = Number(query.get('relay'))
  const relay = /^\d{1,2}$/.test(query.get('relay') ?? '') ? supervisor.relay(n) : undefined
  if (at === null || relay === undefined) {
    sendJson(res, 400, { error: 'USAGE', message: 'at must be ms since the epoch and relay a relay number' })
    return null
  }
  if (relay.state !== 'running') {
    unavailable(res, relay)
    return null
  }
  return { at, relay }
}

/** One call of the relay's document API; null when the relay does not answer in time. */
async function relayCall(relay, method, doc, query, timeoutMs) {
  try {
    // Validated names hold only characters that need no escaping in a path.
    return await fetch(`${relay.httpUrl}/docs/${doc}${query}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch {
    return null
  }
}

function unavailable(res, relay) {
  sendJson(res, 503, { error: 'RELAY_UNAVAILABLE', message: `relay-${relay.n} does not answer` })
}

/** Passes a relay's JSON answer (or its status with an empty object) on to the page. */
async function passJson(res, answer) {
  const body = await answer.json().catch(() => ({}))
  sendJson(res, answer.status, body)
}

function sendJson(res, status, body) {
  if (res.headersSent) return
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}
