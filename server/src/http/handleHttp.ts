import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import type { DocStore } from '@rhizome/store'
import { type Authorizer, bearerToken } from '../connections/Authorizer.js'
import type { DocDeletion } from '../docs/DocDeletion.js'
import type { RelayMetrics } from '../metrics.js'
import { type DocApi, isDocApiTarget } from './DocApi.js'
import { handleDeletion } from './deleteApi.js'

/** What the HTTP endpoints read from the relay. */
export interface HttpHost {
  readonly id: string
  readonly store: DocStore
  readonly metrics: RelayMetrics
  /** Decides who may use the admin endpoints (an admin grant; open for anonymous relays). */
  readonly authorizer: Authorizer
  /** `/docs/<name>`: the HTTP document API (docs/PROTOCOL.md section 10). */
  readonly docApi: DocApi
  /** Tombstones: `DELETE /docs/<name>`, undelete, and the refusals of deleted documents (section 9). */
  readonly deletion: DocDeletion
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
  if (!relay.authorizer.required) return true
  try {
    await relay.authorizer.authorize({ token: bearerToken(req), doc: null, request: req }, 'admin')
    return true
  } catch (err) {
    if (isRhizomeError(err, ErrorCode.AUTH_FORBIDDEN)) {
      json(res, 403, { error: 'AUTH_FORBIDDEN', message: err.message })
      return false
    }
    json(res, 401, { error: 'AUTH_INVALID', message: isRhizomeError(err) ? err.message : 'invalid token' })
    return false
  }
}

/** Serves `/healthz`, `/metrics`, `/docs` (docs/PROTOCOL.md section 1) and `/docs/<name>` (section 10). */
export async function handleHttp(relay: HttpHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (isDocApiTarget(req.url)) {
    if (await handleDeletion(relay, req, res)) return
    return relay.docApi.handle(req, res)
  }
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
      if (url.searchParams.get('deleted') === '1') {
        const page = relay.store.tombstones({ after, limit: limit + 1 })
        const docs = page.slice(0, limit).map(({ name, at }) => ({ name, deleted: true, at }))
        json(res, 200, { docs, next: page.length > limit ? docs.at(-1)!.name : null })
        return
      }
      const docs: { name: string; digest: string | null; bytes: number }[] = []
      let more = false
      for await (const entry of relay.store.catalog({ after })) {
        // Deleted documents are left out (section 9): `?deleted=1` lists them.
        if (relay.store.deletedAt(entry.name) !== null) continue
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
