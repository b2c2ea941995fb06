import {
  CloseCode,
  closeCodeFor,
  decodeMessage,
  ErrorCode,
  encodeAck,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  RhizomeError,
  type TokenAccess,
} from '@rhizome/protocol'
import type { WebSocket } from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import type { OutboundAccount, OutboundBudget } from '../connections/OutboundBudget.js'
import { refuseSocket } from '../connections/refusal.js'
import { TokenBucket } from '../connections/TokenBucket.js'
import type { Logger } from '../logger.js'
import type { RelayMetrics } from '../metrics.js'
import { type AckSource, AckTracker } from './AckTracker.js'
import { applyClientAwareness } from './applyClientAwareness.js'
import type { DocClient, RelayDoc } from './RelayDoc.js'

/** What a connection needs from its relay. */
export interface ConnectionHost {
  readonly metrics: RelayMetrics
  readonly log: Logger
  readonly maxBufferedBytes: number
  /** Unsent bytes of all client sockets together and per IP (`--max-outbound-bytes*`). */
  readonly outbound: OutboundBudget
  /** Bytes a socket may send before its document finished loading. */
  readonly maxPendingBytes: number
  /** Current ack targets of every caught-up peer link. */
  ackTargets(): Map<AckSource, number>
  onConnectionClosed(conn: ClientConnection): void
}

/**
 * One client WebSocket on one document: y-websocket messages in and out, ACK bookkeeping for
 * sockets that opted in with `rhizome=1`, per-socket rate limits, and the close code of any failure.
 */
export class ClientConnection implements DocClient {
  readonly awarenessIds = new Set<number>()
  readonly #acks: AckTracker | null
  #n = 0
  #queue: Uint8Array[] | null = []
  #queuedBytes = 0
  #closed = false
  #expiry: ReturnType<typeof setTimeout> | null = null
  readonly #messages: TokenBucket | null
  readonly #bytes: TokenBucket | null
  readonly #outbound: OutboundAccount
  /** SYNC step2 answers handed to the socket and not yet written to the OS. */
  #answersUnsent = 0

  constructor(
    readonly ws: WebSocket,
    readonly doc: RelayDoc,
    readonly access: TokenAccess,
    readonly ackEnabled: boolean,
    private readonly host: ConnectionHost,
    limits: { rateMessages: number; rateBytes: number },
    readonly sub?: string,
    remoteIp = 'unknown',
  ) {
    this.#outbound = host.outbound.open(remoteIp, () => {
      this.close(CloseCode.TRANSIENT, 'relay send budget full: reader too slow')
      this.ws.terminate()
    })
    // Only once the socket is gone are its buffers freed; until then they count.
    ws.once('close', () => this.#outbound.close())
    this.#acks = ackEnabled
      ? new AckTracker((n, copies, receivedAt) => {
          host.metrics.ackSeconds.observe({ copies: String(copies) }, (performance.now() - receivedAt) / 1000)
          this.sendFrame(encodeAck(n, copies))
        })
      : null
    this.#messages =
      limits.rateMessages > 0 ? new TokenBucket(limits.rateMessages, limits.rateMessages * 2) : null
    this.#bytes = limits.rateBytes > 0 ? new TokenBucket(limits.rateBytes, limits.rateBytes * 2) : null
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onFrame(data, isBinary))
    ws.on('close', () => this.#onClose())
    ws.on('error', () => this.#onClose())
  }

  /**
   * Closes the socket with 4401 when its token expires (`exp`, seconds since the epoch): a token
   * grants access until then, not for as long as the socket stays open.
   */
  expireAt(expSeconds: number): void {
    const arm = () => {
      const delay = expSeconds * 1000 - Date.now()
      if (delay <= 0) return this.close(CloseCode.UNAUTHORIZED, 'token expired')
      // setTimeout fires at once for delays past 2^31-1 ms; re-arm in steps instead.
      this.#expiry = setTimeout(arm, Math.min(delay, 2 ** 31 - 1))
      this.#expiry.unref?.()
    }
    if (!this.#closed) arm()
  }

  /** Called by the relay once the document is loaded: greet the client, then drain queued frames. */
  start(): void {
    if (this.#closed) return
    this.sendFrame(encodeSyncStep1(Y.encodeStateVector(this.doc.ydoc)))
    const states = this.doc.awareness.getStates()
    if (states.size > 0) {
      this.sendFrame(
        encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.doc.awareness, [...states.keys()])),
      )
    }
    const queued = this.#queue ?? []
    this.#queue = null
    for (const frame of queued) {
      if (this.#closed) return
      this.#handle(frame)
    }
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return
    this.host.metrics.bytesIn.inc(data.length)
    if (!isBinary) return this.close(CloseCode.MALFORMED, 'text frames are not part of the protocol')
    if (!(this.#messages?.take(1) ?? true) || !(this.#bytes?.take(data.length) ?? true)) {
      return this.close(CloseCode.RATE_LIMITED, 'rate limit exceeded')
    }
    const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (this.#queue) {
      this.#queuedBytes += frame.length
      if (this.#queuedBytes > this.host.maxPendingBytes) {
        return this.close(CloseCode.RATE_LIMITED, 'too much data before the document finished loading')
      }
      this.#queue.push(frame)
      return
    }
    this.#handle(frame)
  }

  #handle(frame: Uint8Array): void {
    try {
      const message = decodeMessage(frame)
      switch (message.type) {
        case 'sync-step1': {
          // An earlier answer is still unsent: it and the updates broadcast to this socket since
          // then already hold everything this one would, so answering again only multiplies the
          // memory a reader that does not read pins (a whole document per request).
          if (this.#answersUnsent > 0) break
          let diff: Uint8Array
          try {
            diff = Y.encodeStateAsUpdate(this.doc.ydoc, message.stateVector)
          } catch (cause) {
            throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, 'invalid state vector', { cause })
          }
          this.#answersUnsent++
          this.sendFrame(encodeSyncStep2(diff), () => this.#answersUnsent--)
          break
        }
        case 'sync-step2':
        case 'sync-update':
          this.#onUpdate(message.update)
          break
        case 'awareness':
          this.#onAwareness(message.update)
          break
        case 'query-awareness': {
          const ids = [...this.doc.awareness.getStates().keys()]
          this.sendFrame(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.doc.awareness, ids)))
          break
        }
        default:
          throw new RhizomeError(ErrorCode.PROTOCOL_MALFORMED, `clients may not send ${message.type}`)
      }
    } catch (err) {
      if (!(err instanceof RhizomeError))
        this.host.log.error({ err, doc: this.doc.name }, 'unexpected error handling a frame')
      this.close(closeCodeFor(err), err instanceof Error ? err.message : 'error')
    }
  }

  #onUpdate(update: Uint8Array): void {
    const n = ++this.#n
    this.host.metrics.updatesIn.inc()
    let held: Promise<void> | null = null
    if (this.access === 'read') {
      if (this.doc.wouldChange(update)) {
        throw new RhizomeError(ErrorCode.AUTH_FORBIDDEN, 'read-only token cannot write')
      }
    } else {
      held = this.doc.apply(update, this).held
    }
    // Part of the update waits for structs the relay lacks; if it is dropped instead (budget,
    // refused by Yjs, reload), this socket resyncs or learns why.
    held?.catch((err) => this.close(closeCodeFor(err), err instanceof Error ? err.message : 'error'))
    if (this.#acks) {
      this.#acks.track(n, this.host.ackTargets())
      const acks = this.#acks
      if (held) {
        // No ACK of n or later until the held part integrated and is durable (PROTOCOL.md section 3).
        acks.hold(n)
        held
          .then(() => this.doc.whenCommitted())
          .then(
            () => {
              if (!this.#closed) acks.release(n, this.host.ackTargets())
            },
            () => {},
          )
        return
      }
      this.doc.whenCommitted().then(
        () => {
          if (!this.#closed) acks.localDone(n)
        },
        () => {},
      )
    }
  }

  #onAwareness(update: Uint8Array): void {
    applyClientAwareness(this.doc, this, update)
  }

  /** Peer acknowledgements changed: maybe raise copies. */
  reevaluateAcks(): void {
    this.#acks?.evaluate()
  }

  get hasPendingAcks(): boolean {
    return (this.#acks?.pending ?? 0) > 0
  }

  /** Sends a document update frame, unless this connection is the one it came from. */
  sendUpdateFrame(frame: Uint8Array): void {
    this.host.metrics.updatesOut.inc()
    this.sendFrame(frame)
  }

  /**
   * Sends a frame; a reader too slow to keep its buffer under the per-socket bound, or one the
   * relay's outbound budget gives up, is closed (4500) and terminated instead. `onWritten` runs
   * once the frame is written to the OS socket (or dropped with it); never if it is not sent.
   */
  sendFrame(frame: Uint8Array, onWritten?: () => void): void {
    if (this.#closed || this.ws.readyState !== this.ws.OPEN) return
    if (this.ws.bufferedAmount + frame.length > this.host.maxBufferedBytes) {
      this.close(CloseCode.TRANSIENT, 'send buffer full: reader too slow')
      this.ws.terminate()
      return
    }
    const release = this.#outbound.reserve(frame.length)
    if (!release) {
      this.close(CloseCode.TRANSIENT, 'relay send budget full: reader too slow')
      this.ws.terminate()
      return
    }
    this.host.metrics.bytesOut.inc(frame.length)
    this.ws.send(frame, () => {
      release()
      onWritten?.()
    })
  }

  /** Sends AUTH denied (for 4401/4403) and closes with `code`. */
  close(code: number, reason: string): void {
    if (this.#closed) return
    this.host.metrics.closes.inc({ code: String(code) })
    this.host.log.info({ doc: this.doc.name, code, reason, sub: this.sub }, 'closing client socket')
    refuseSocket(this.ws, code, reason)
    this.#onClose()
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#expiry) clearTimeout(this.#expiry)
    this.host.onConnectionClosed(this)
  }
}
