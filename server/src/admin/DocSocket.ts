import { CloseCode, decodeMessage, ErrorCode, type Message, RhizomeError } from '@rhizome/protocol'
import WebSocket from 'ws'
import { redactUrl } from '../logger.js'

interface Waiter {
  pick: (message: Message) => boolean
  resolve: (message: Message) => void
  reject: (err: unknown) => void
}

/** Maps a relay's close code (docs/PROTOCOL.md section 4) to the error an admin command reports. */
export function closeError(where: string, code: number, reason: string): RhizomeError {
  const why = reason ? `: ${reason}` : ''
  switch (code) {
    case CloseCode.UNAUTHORIZED:
      return new RhizomeError(
        ErrorCode.AUTH_INVALID,
        `${where}: missing, invalid or expired token (4401${why}); pass --token or RHIZOME_TOKEN`,
      )
    case CloseCode.FORBIDDEN:
      return new RhizomeError(
        ErrorCode.AUTH_FORBIDDEN,
        `${where}: the token does not allow this (4403${why})`,
      )
    case CloseCode.TOO_LARGE:
      return new RhizomeError(
        ErrorCode.PROTOCOL_TOO_LARGE,
        `${where}: the relay refused a message larger than its --max-message-bytes (4413)`,
      )
    case CloseCode.MALFORMED:
      return new RhizomeError(
        ErrorCode.PROTOCOL_MALFORMED,
        `${where}: the relay refused the data (4400${why})`,
      )
    case CloseCode.RATE_LIMITED:
      return new RhizomeError(ErrorCode.RATE_LIMITED, `${where}: rate limited by the relay (4429)`)
    default:
      return new RhizomeError(
        ErrorCode.RELAY_UNAVAILABLE,
        `${where}: the relay closed the socket (${code}${why})`,
      )
  }
}

/**
 * One WebSocket to one document on a relay, for the admin commands: decodes every frame and
 * lets the caller wait for the first message that matches, with a deadline. A close, a socket
 * error or the deadline rejects every wait with a RhizomeError naming the cause.
 */
export class DocSocket {
  readonly #ws: WebSocket
  readonly #where: string
  readonly #waiters = new Set<Waiter>()
  #failure: RhizomeError | null = null
  #authReason = ''

  private constructor(ws: WebSocket, where: string) {
    this.#ws = ws
    this.#where = where
    ws.on('message', (data: Buffer) => this.#onMessage(data))
    ws.on('close', (code: number, reason: Buffer) => {
      this.#fail(closeError(this.#where, code, reason.toString('utf8') || this.#authReason))
    })
    ws.on('error', (err) => {
      this.#fail(
        new RhizomeError(ErrorCode.RELAY_UNAVAILABLE, `${this.#where}: ${err.message}`, { cause: err }),
      )
    })
  }

  /**
   * Connects to `url` (a document socket URL); `where` names the relay and document in errors.
   * @throws RhizomeError RELAY_UNAVAILABLE when the relay cannot be reached or refuses the upgrade,
   * DOC_NAME_INVALID when it answers 400.
   */
  static open(url: string, where: string, timeoutMs: number): Promise<DocSocket> {
    return new Promise((resolve, reject) => {
      // No payload limit of our own: a whole document arrives as one step2 frame, whatever its size.
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, perMessageDeflate: false, maxPayload: 0 })
      ws.binaryType = 'nodebuffer'
      const onError = (err: Error) => {
        ws.off('open', onOpen)
        reject(
          new RhizomeError(
            ErrorCode.RELAY_UNAVAILABLE,
            `${where}: cannot connect (${redactUrl(err.message)})`,
            {
              cause: err,
            },
          ),
        )
      }
      const onOpen = () => {
        ws.off('error', onError)
        ws.off('unexpected-response', onUnexpected)
        resolve(new DocSocket(ws, where))
      }
      const onUnexpected = (_req: unknown, res: import('node:http').IncomingMessage) => {
        ws.off('error', onError)
        ws.off('open', onOpen)
        const status = res.statusCode ?? 0
        res.resume()
        ws.terminate()
        reject(
          status === 400
            ? new RhizomeError(
                ErrorCode.DOC_NAME_INVALID,
                `${where}: the relay refused the document name (HTTP 400)`,
              )
            : new RhizomeError(
                ErrorCode.RELAY_UNAVAILABLE,
                `${where}: the relay refused the socket (HTTP ${status})`,
              ),
        )
      }
      ws.once('error', onError)
      ws.once('open', onOpen)
      ws.once('unexpected-response', onUnexpected)
    })
  }

  /** Sends one frame. */
  send(frame: Uint8Array): void {
    if (this.#failure) throw this.#failure
    this.#ws.send(frame)
  }

  /**
   * Resolves with the first message (from now on) for which `pick` is true.
   * @throws RhizomeError TIMEOUT after `timeoutMs`, or the error that ended the socket.
   */
  waitFor(pick: (message: Message) => boolean, what: string, timeoutMs: number): Promise<Message> {
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(new RhizomeError(ErrorCode.TIMEOUT, `${this.#where}: no ${what} within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter: Waiter = {
        pick,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      this.#waiters.add(waiter)
    })
  }

  /** Closes the socket normally and waits until it is closed (at most one second). */
  async close(): Promise<void> {
    const ws = this.#ws
    if (ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => {
        ws.terminate()
        resolve()
      }, 1000)
      ws.once('close', () => {
        clearTimeout(cut)
        resolve()
      })
      if (ws.readyState !== WebSocket.CLOSING) ws.close(1000, 'done')
    })
  }

  #onMessage(data: Buffer): void {
    let message: Message
    try {
      message = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    } catch (err) {
      this.#fail(
        new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `${this.#where}: the relay sent a malformed frame`, {
          cause: err,
        }),
      )
      this.#ws.terminate()
      return
    }
    if (message.type === 'auth-denied') this.#authReason = message.reason
    for (const waiter of [...this.#waiters]) {
      if (waiter.pick(message)) {
        this.#waiters.delete(waiter)
        waiter.resolve(message)
      }
    }
  }

  #fail(err: RhizomeError): void {
    if (this.#failure) return
    this.#failure = err
    for (const waiter of this.#waiters) waiter.reject(err)
    this.#waiters.clear()
  }
}
