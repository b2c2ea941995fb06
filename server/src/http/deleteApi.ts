import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, isRhizomeError, parseDocName, type TokenAccess } from '@rhizome/protocol'
import { type Authorizer, bearerToken } from '../connections/Authorizer.js'
import type { DocDeletion } from '../docs/DocDeletion.js'

/** What deletion over HTTP needs from the relay. */
export interface DeleteApiHost {
  readonly authorizer: Authorizer
  readonly deletion: DocDeletion
}

const PREFIX = '/docs/'

function json(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body))
}

async function authorized(
  host: DeleteApiHost,
  req: IncomingMessage,
  res: ServerResponse,
  doc: string,
  need: TokenAccess,
): Promise<boolean> {
  if (!host.authorizer.required) return true
  try {
    await host.authorizer.authorize({ token: bearerToken(req), doc, request: req }, need)
    return true
  } catch (err) {
    const forbidden = isRhizomeError(err, ErrorCode.AUTH_FORBIDDEN)
    const message = err instanceof Error ? err.message : 'unauthorized'
    json(res, forbidden ? 403 : 401, {
      error: forbidden ? ErrorCode.AUTH_FORBIDDEN : ErrorCode.AUTH_INVALID,
      message,
    })
    return false
  }
}

/**
 * Deletion over HTTP (docs/PROTOCOL.md sections 9 and 10), in front of the document API:
 * `DELETE /docs/<name>` deletes the document on the mesh (admin; 200 `{"doc","deleted":true,"at"}`),
 * `POST /docs/<name>?undelete=1` brings it back within `--history-ms` (admin; 200
 * `{"doc","deleted":false,"at"}`, 404 `NOT_DELETED`, 410 `DOC_DELETED` once purged), and a deleted
 * document answers `GET` with 404 and `POST` with 410 `DOC_DELETED` (after the same token check as
 * the document API, so the answer tells nothing to a caller without access).
 * @returns true when it answered the request; false to pass it on to the document API.
 */
export async function handleDeletion(
  host: DeleteApiHost,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const target = req.url ?? PREFIX
  const q = target.indexOf('?')
  const path = q >= 0 ? target.slice(0, q) : target
  const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '')
  let name: string
  try {
    name = parseDocName(path.slice(PREFIX.length))
  } catch {
    return false // the document API answers 400 for it
  }
  const method = req.method ?? 'GET'
  const { deletion } = host
  if (method === 'DELETE') {
    if (!(await authorized(host, req, res, name, 'admin'))) return true
    const at = await deletion.delete(name)
    json(res, 200, { doc: name, deleted: true, at })
    return true
  }
  if (method === 'POST' && query.get('undelete') === '1') {
    if (!(await authorized(host, req, res, name, 'admin'))) return true
    const result = await deletion.undelete(name)
    if (result === 'not-deleted') json(res, 404, { error: 'NOT_DELETED', message: `${name} is not deleted` })
    else if (result === 'purged')
      json(res, 410, {
        error: ErrorCode.DOC_DELETED,
        message: `${name} was deleted longer than --history-ms ago`,
      })
    else json(res, 200, { doc: name, deleted: false, at: deletion.deletedAt(name) ?? Date.now() })
    return true
  }
  const deletedAt = deletion.deletedAt(name)
  if (deletedAt === null) return false
  if (method === 'POST') {
    if (!(await authorized(host, req, res, name, 'write'))) return true
    // The body is not read: nothing of it is stored.
    res.setHeader('connection', 'close')
    json(res, 410, { error: ErrorCode.DOC_DELETED, message: `${name} was deleted`, at: deletedAt })
    return true
  }
  if (method === 'GET' || method === 'HEAD') {
    if (!(await authorized(host, req, res, name, 'read'))) return true
    json(res, 404, { error: 'NOT_FOUND' })
    return true
  }
  return false
}
