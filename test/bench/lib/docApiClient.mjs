// The load generator's side of the HTTP document API (docs/PROTOCOL.md section 10): POST a Yjs
// update, GET a document, over node:http keep-alive connections.
import { Agent, request } from 'node:http'

/** A keep-alive agent of at most `sockets` connections (requests past that wait in its queue). */
export function keepAliveAgent(sockets) {
  return new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets })
}

function send(agent, httpUrl, method, path, body) {
  const { hostname, port } = new URL(httpUrl)
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {}
    const req = request({ agent, hostname, port, path, method, headers }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * `POST /docs/<name>?copies=k` with `update` as the body. Resolves `{ status, copies }` (`copies`
 * from the JSON answer, 0 when there is none); rejects only on a network error.
 */
export async function postUpdate(agent, httpUrl, name, update, copies = 1) {
  const res = await send(agent, httpUrl, 'POST', `/docs/${name}?copies=${copies}`, update)
  let reached = 0
  try {
    reached = JSON.parse(res.body.toString('utf8')).copies ?? 0
  } catch {}
  return { status: res.status, copies: reached }
}

/** `GET /docs/<name>`: resolves `{ status, update }` (the document as one Yjs update when 200). */
export async function getDoc(agent, httpUrl, name) {
  const res = await send(agent, httpUrl, 'GET', `/docs/${name}`)
  return { status: res.status, update: new Uint8Array(res.body) }
}
