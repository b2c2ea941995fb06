import { decodeMessage } from '@rhizome/protocol'
import type { DocClient, RelayDoc } from '../docs/RelayDoc.js'

/** What a {@link SessionDocClient} reports to the session that owns it. */
export interface SessionDocOwner {
  /** Sends the session message `awareness {doc, update}`. */
  sendAwareness(doc: string, update: Uint8Array): void
  /** The document dropped its clients (a storage failure): the session detaches this one. */
  onDocClientClosed(client: SessionDocClient, code: number, reason: string): void
}

/**
 * A document a device session has open (`open {doc}`), as the loaded document sees it: one of its
 * clients, so that it stays in memory and the device takes part in its awareness
 * (docs/PROTOCOL.md section 7.2). Awareness frames the document sends are re-framed as session
 * messages. Document updates are deliberately dropped here: the session receives them, once,
 * through the live feed of every document it replicates.
 */
export class SessionDocClient implements DocClient {
  readonly awarenessIds = new Set<number>()

  constructor(
    readonly doc: RelayDoc,
    private readonly owner: SessionDocOwner,
  ) {}

  /** Receives the y-websocket frames the document sends its clients; only awareness goes out. */
  sendFrame(frame: Uint8Array): void {
    const message = decodeMessage(frame)
    if (message.type === 'awareness') this.owner.sendAwareness(this.doc.name, message.update)
  }

  /** Not sent: the live feed already carries every update of the document to the session. */
  sendUpdateFrame(_frame: Uint8Array): void {}

  close(code: number, reason: string): void {
    this.owner.onDocClientClosed(this, code, reason)
  }
}
