import type { IncomingMessage, ServerResponse } from 'node:http'
import { isRhizomeError, type TokenClaims } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import type { RelayMetrics } from '../metrics.js'

/** What the HTTP endpoints read from the relay. */
export interface HttpHost {
  readonly id: string
  readonly store: DocStore
  readonly metrics: RelayMetrics
  /** True when the relay has an auth secret: admin endpoints need an admin token. */
  readonly authRequired: boolean
  /** @throws RhizomeError AUTH_INVALID for a missing, invalid or expired token. */
  verifyToken(token: string | null | undefined): Promise<TokenClaims>
  /** Unsent bytes of every client socket (`rhizome_outbound_buffered_bytes`). */
  outboundBytes(): number
  peerStatus(): { url: string; id: string | null; connected: boolean }[]
  readonly recovering: boolean
}

/** Largest page `/docs` serves. */
export const MAX_DOCS_PAGE = 1000

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(text)
}

/** Checks `Authorization: Bearer <token>` for admin access when the relay has an auth secret. */
async function requireAdmin(relay: HttpHost, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (!relay.authRequired) return true
  const header = req.headers.authorization ?? ''
  const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]
  try {
    const claims = await relay.verifyToken(token)
    if (claims.access !== 'admin') {
      json(res, 403, { error: 'AUTH_FORBIDDEN', message: 'admin access required' })
      return false
    }
    return true
  } catch (err) {
    json(res, 401, { error: 'AUTH_INVALID', message: isRhizomeError(err) ? err.message : 'invalid token' })
    return false
  }
}

/** Serves `/healthz`, `/metrics` and `/docs` (docs/PROTOCOL.md section 1). */
export async function handleHttp(relay: HttpHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://relay')
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET' }).end()
    return
  }
  switch (url.pathname) {
    case '/healthz':
      json(res, 200, {
        ok: true,
        id: relay.id,
        docs: relay.store.docCount,
        peers: relay.peerStatus(),
        recovering: relay.recovering,
      })
      return
    case '/metrics': {
      if (!(await requireAdmin(relay, req, res))) return
      relay.metrics.docsStored.set(relay.store.docCount)
      relay.metrics.outboundBytes.set(relay.outboundBytes())
      const text = await relay.metrics.registry.metrics()
      res.writeHead(200, { 'content-type': relay.metrics.registry.contentType }).end(text)
      return
    }
    case '/docs': {
      if (!(await requireAdmin(relay, req, res))) return
      const after = url.searchParams.get('after') ?? undefined
      const rawLimit = url.searchParams.get('limit')
      let limit = 100
      if (rawLimit !== null) {
        if (!/^\d+$/.test(rawLimit) || Number(rawLimit) < 1) {
          json(res, 400, { error: 'USAGE', message: 'limit must be a positive whole number' })
          return
        }
        limit = Math.min(Number(rawLimit), MAX_DOCS_PAGE)
      }
      const docs: { name: string; digest: string | null; bytes: number }[] = []
      let more = false
      for await (const entry of relay.store.catalog({ after, limit: limit + 1 })) {
        if (docs.length === limit) {
          more = true
          break
        }
        docs.push({ name: entry.name, digest: entry.digest, bytes: entry.bytes })
      }
      json(res, 200, { docs, next: more ? docs.at(-1)!.name : null })
      return
    }
    default:
      json(res, 404, { error: 'NOT_FOUND' })
  }
}
