import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  EMPTY_STATE_VECTOR,
  ErrorCode,
  isRhizomeError,
  parseDocName,
  RhizomeError,
  type TokenAccess,
} from '@rhizome/protocol'
import * as Y from 'yjs'
import { HTTP_ORIGIN } from '../changes/changeOrigin.js'
import { type Authorizer, bearerToken } from '../connections/Authorizer.js'
import { type AckSource, AckTracker } from '../docs/AckTracker.js'
import type { DocRegistry } from '../docs/DocRegistry.js'
import type { Logger } from '../logger.js'
import { documentAt } from './documentAt.js'
import { applyRevert, type HistoryAnswer, historyAnswerOf, momentOf, restorePointsOf } from './historyApi.js'
import { readRequestBody } from './requestBody.js'

/** The path prefix of the document API; `/docs` alone is the catalog (docs/PROTOCOL.md section 1). */
const PREFIX = '/docs/'

/** `POST ?copies=k` answers 504 with the copies reached when k are not reached within this. */
export const COPIES_WAIT_MS = 10_000

/** What the document API needs from the relay. */
export interface DocApiHost {
  readonly docs: DocRegistry
  readonly authorizer: Authorizer
  /** `--max-message-bytes`: larger POST bodies get 413. */
  readonly maxMessageBytes: number
  readonly log: Logger
  /** True once the relay is shutting down: writes get 503. */
  readonly closing: boolean
  /** Sequence number each caught-up peer must acknowledge to hold the current state (the mesh's). */
  ackTargets(): Map<AckSource, number>
}

/** True when the raw request target is a document of the HTTP API (`/docs/<name>...`). */
export function isDocApiTarget(target: string | undefined): boolean {
  return target?.startsWith(PREFIX) === true
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    .end(JSON.stringify(body))
}

function answer(res: ServerResponse, { status, body }: HistoryAnswer): void {
  json(res, status, body)
}

function fail(res: ServerResponse, status: number, error: string, message?: string): void {
  json(res, status, message === undefined ? { error } : { error, message })
}

/** A pending `POST` waiting for its copies. */
interface CopiesWait {
  tracker: AckTracker
  finish(status: number): void
}

/**
 * The HTTP document API (docs/PROTOCOL.md section 10): `GET /docs/<name>` reads a document as one
 * Yjs update (from memory when loaded, else from the store, without loading it), `POST
 * /docs/<name>` merges a Yjs update into it (origin `'http'`) and answers once it is durable on the
 * copies asked for. Names are checked on the raw request target exactly as for sockets (section 2);
 * access goes through the relay's {@link Authorizer}: `read` for GET, `write` for POST.
 */
export class DocApi {
  readonly #waits = new Set<CopiesWait>()

  constructor(private readonly host: DocApiHost) {}

  /** Serves one request whose target {@link isDocApiTarget}. Never rejects for a client's mistake. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      res.writeHead(405, { allow: 'GET, HEAD, POST, DELETE' }).end()
      return
    }
    // The raw target, as the upgrade path reads it: `..` and `%2e%2e` are never resolved.
    const target = req.url ?? PREFIX
    const q = target.indexOf('?')
    const path = q >= 0 ? target.slice(0, q) : target
    const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '')
    let name: string
    try {
      name = parseDocName(path.slice(PREFIX.length))
    } catch (err) {
      return fail(res, 400, ErrorCode.DOC_NAME_INVALID, err instanceof Error ? err.message : undefined)
    }
    if (!(await this.#authorize(req, res, name, method === 'POST' ? 'write' : 'read'))) return
    if (method === 'POST') return this.#post(name, query, req, res)
    return this.#get(name, query, res)
  }

  async #authorize(
    req: IncomingMessage,
    res: ServerResponse,
    doc: string,
    need: TokenAccess,
  ): Promise<boolean> {
    const { authorizer } = this.host
    if (!authorizer.required) return true
    try {
      await authorizer.authorize({ token: bearerToken(req), doc, request: req }, need)
      return true
    } catch (err) {
      const forbidden = isRhizomeError(err, ErrorCode.AUTH_FORBIDDEN)
      const message = err instanceof Error ? err.message : 'unauthorized'
      this.host.log.info({ doc, status: forbidden ? 403 : 401, reason: message }, 'refused HTTP request')
      fail(res, forbidden ? 403 : 401, forbidden ? ErrorCode.AUTH_FORBIDDEN : ErrorCode.AUTH_INVALID, message)
      return false
    }
  }

  async #get(name: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const at = query.get('at')
    if (at !== null) return this.#getAt(name, at, res)
    if (query.has('history')) return this.#history(name, res)
    const { docs } = this.host
    let update: Uint8Array
    try {
      const loaded = docs.loaded(name)
      if (loaded) await loaded.ready
      // A loaded document that holds nothing yet (a socket opened it, nobody wrote) is unknown too.
      const known =
        (loaded !== undefined && loaded.ydoc.store.clients.size > 0) || (await docs.store.has(name))
      if (!known) return fail(res, 404, 'NOT_FOUND')
      update = await docs.diffOf(name, EMPTY_STATE_VECTOR)
    } catch (err) {
      return this.#unavailable(res, name, err)
    }
    res
      .writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(update.byteLength),
        'cache-control': 'no-store',
      })
      .end(update)
  }

  async #getAt(name: string, raw: string, res: ServerResponse): Promise<void> {
    const at = momentOf('at', raw, Date.now())
    if (typeof at !== 'number') return answer(res, at)
    let update: Uint8Array | null
    try {
      update = await documentAt(this.host.docs, name, at)
    } catch (err) {
      const known = historyAnswerOf(err)
      return known ? answer(res, known) : this.#unavailable(res, name, err)
    }
    if (update === null) return fail(res, 404, 'NOT_FOUND')
    res
      .writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(update.byteLength),
        'cache-control': 'no-store',
      })
      .end(update)
  }

  /** `?history=1`: `{"doc", "points": [{"at", "bytes"}]}`, newest first (docs/PROTOCOL.md section 10). */
  async #history(name: string, res: ServerResponse): Promise<void> {
    let points: { at: number; bytes: number }[] | null
    try {
      points = await restorePointsOf(this.host.docs, name)
    } catch (err) {
      return this.#unavailable(res, name, err)
    }
    if (points === null) return fail(res, 404, 'NOT_FOUND')
    json(res, 200, { doc: name, points: points.map(({ at, bytes }) => ({ at, bytes })) })
  }

  /** `POST ?revert=TIME`: one forward update through the loaded document, answered like a POST. */
  async #revert(name: string, raw: string, wanted: number, res: ServerResponse): Promise<void> {
    const at = momentOf('revert', raw, Date.now())
    if (typeof at !== 'number') return answer(res, at)
    let applied: Awaited<ReturnType<typeof applyRevert>>
    try {
      applied = await applyRevert(this.host, name, at)
    } catch (err) {
      const known = historyAnswerOf(err)
      return known ? answer(res, known) : this.#unavailable(res, name, err)
    }
    if (applied === null) return fail(res, 404, 'NOT_FOUND')
    const { status, copies } = await this.#waitForCopies(applied.committed, applied.targets, wanted)
    if (status === 503) return fail(res, 503, ErrorCode.RELAY_UNAVAILABLE, 'the revert could not be stored')
    json(res, status, { copies })
  }

  async #post(
    name: string,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const rawCopies = query.get('copies')
    let wanted = 1
    if (rawCopies !== null) {
      if (!/^\d+$/.test(rawCopies) || Number(rawCopies) < 1)
        return fail(res, 400, ErrorCode.USAGE, 'copies must be a positive whole number')
      wanted = Number(rawCopies)
    }
    if (this.host.closing) return fail(res, 503, ErrorCode.RELAY_UNAVAILABLE, 'relay shutting down')
    const revert = query.get('revert')
    if (revert !== null) {
      // A revert carries no body: whatever was sent is discarded unread.
      req.resume()
      return this.#revert(name, revert, wanted, res)
    }
    let body: Uint8Array | null
    try {
      body = await readRequestBody(req, this.host.maxMessageBytes)
    } catch {
      req.destroy()
      return
    }
    if (body === null) {
      // Nothing past the limit is read; the rest of the body dies with the connection.
      return json(
        res,
        413,
        {
          error: ErrorCode.PROTOCOL_TOO_LARGE,
          message: `body larger than ${this.host.maxMessageBytes} bytes`,
        },
        { connection: 'close' },
      )
    }
    // Decoded whole before the document is touched: a body Yjs cannot read stores nothing.
    try {
      Y.decodeUpdate(body)
    } catch {
      return fail(res, 400, ErrorCode.PROTOCOL_MALFORMED, 'body is not a Yjs update')
    }
    let applied: { committed: Promise<void>; targets: Map<AckSource, number> }
    try {
      applied = await this.host.docs.withDoc(name, (doc) => {
        doc.apply(body, HTTP_ORIGIN)
        // Taken right after the apply, which forwarded the update to every peer link.
        return { committed: doc.whenCommitted(), targets: this.host.ackTargets() }
      })
    } catch (err) {
      if (isRhizomeError(err, ErrorCode.PROTOCOL_MALFORMED)) return fail(res, 400, err.code, err.message)
      return this.#unavailable(res, name, err)
    }
    const { status, copies } = await this.#waitForCopies(applied.committed, applied.targets, wanted)
    if (status === 503) return fail(res, 503, ErrorCode.RELAY_UNAVAILABLE, 'the update could not be stored')
    json(res, status, { copies })
  }

  /**
   * Counts the stores holding what was applied, as ACKs do (docs/PROTOCOL.md section 3): this relay
   * once committed, a peer once it acknowledged the sequence number that carried it. Resolves 200
   * when `wanted` copies are reached, 504 after {@link COPIES_WAIT_MS}, 503 when the commit failed.
   */
  #waitForCopies(
    committed: Promise<void>,
    targets: Map<AckSource, number>,
    wanted: number,
  ): Promise<{ status: number; copies: number }> {
    return new Promise((resolve) => {
      let reached = 0
      let done = false
      const timer = setTimeout(() => wait.finish(504), COPIES_WAIT_MS)
      const wait: CopiesWait = {
        tracker: new AckTracker((_n, copies) => {
          reached = copies
          if (copies >= wanted) wait.finish(200)
        }),
        finish: (status) => {
          if (done) return
          done = true
          clearTimeout(timer)
          this.#waits.delete(wait)
          resolve({ status, copies: reached })
        },
      }
      wait.tracker.track(1, targets)
      this.#waits.add(wait)
      committed.then(
        () => wait.tracker.localDone(1),
        () => wait.finish(503),
      )
    })
  }

  /** Peer acknowledgements arrived: waiting POSTs re-count their copies. */
  onPeerAck(): void {
    for (const wait of this.#waits) wait.tracker.evaluate()
  }

  /** Relay shutdown (after its last commit): answers every POST still waiting for copies. */
  stop(): void {
    for (const wait of [...this.#waits]) wait.finish(504)
  }

  #unavailable(res: ServerResponse, name: string, err: unknown): void {
    if (isRhizomeError(err, ErrorCode.STORE_CORRUPT)) {
      return json(
        res,
        503,
        { error: ErrorCode.STORE_CORRUPT, message: 'document is being repaired' },
        { 'retry-after': '5' },
      )
    }
    if (!(err instanceof RhizomeError))
      this.host.log.error({ err, doc: name }, 'HTTP document request failed')
    fail(res, 503, ErrorCode.RELAY_UNAVAILABLE, 'relay error; retry')
  }
}
