/** Where a change to a document came from, as `onChange` reports it (docs/PROTOCOL.md section 10). */
export type ChangeOrigin = 'client' | 'peer' | 'http'

/** What `onChange` receives: one update that changed `doc`, durable in this relay's store. */
export interface ChangeEvent {
  /** The document's name. */
  doc: string
  /** The Yjs update (v1) that changed it. */
  update: Uint8Array
  /**
   * `'client'` for a client of this relay (a document socket or a device session), `'peer'` for
   * a relay of the mesh, `'http'` for `POST /docs/<name>`.
   */
  origin: ChangeOrigin
}

/**
 * The `onChange` hook of `startRelay`: runs after an update is durable. What it returns or throws
 * never affects the relay (a rejection or exception is logged); it runs on a later turn of the event
 * loop than the commit, so it delays no ACK either.
 */
export type ChangeHook = (event: ChangeEvent) => void | Promise<void>

/** The Yjs transaction origin of updates merged through the HTTP document API. */
export const HTTP_ORIGIN: { readonly changeOrigin: 'http' } = Object.freeze({ changeOrigin: 'http' })

/** True for origins whose changes this relay announces by webhook: it received them first-hand. */
export function isFirstHand(origin: ChangeOrigin): boolean {
  return origin === 'client' || origin === 'http'
}

/**
 * Maps Yjs transaction origins to {@link ChangeOrigin}: `isPeer` recognises the mesh's links,
 * {@link HTTP_ORIGIN} is the HTTP API, and every other origin is a client of this relay (a document
 * socket or a device session: a new client path needs no registration to be reported as `'client'`).
 */
export function originClassifier(isPeer: (origin: unknown) => boolean): (origin: unknown) => ChangeOrigin {
  return (origin) => (isPeer(origin) ? 'peer' : origin === HTTP_ORIGIN ? 'http' : 'client')
}
