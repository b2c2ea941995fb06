import type { DocRegistry } from '../docs/DocRegistry.js'

/**
 * True when the relay holds the document: loaded with content, or in the store. A loaded document
 * that holds nothing (a socket opened it, nobody wrote) is unknown, as for `GET /docs/<name>`.
 */
export async function isKnownDoc(docs: DocRegistry, name: string): Promise<boolean> {
  const loaded = docs.loaded(name)
  if (loaded) await loaded.ready
  return (loaded !== undefined && loaded.ydoc.store.clients.size > 0) || (await docs.store.has(name))
}
