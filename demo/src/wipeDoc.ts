import type * as Y from 'yjs'

/**
 * Deletes every item of every shared type of `doc` in one transaction with `origin`: what a buggy
 * client that "clears" a document sends. Deleted nested types go with their parent items. The
 * result is an ordinary CRDT update (a delete set), so it replicates to every relay and device;
 * only history can bring the content back (docs/PROTOCOL.md section 9).
 */
export function wipeDoc(doc: Y.Doc, origin: unknown): void {
  doc.transact((tr) => {
    for (const type of doc.share.values()) {
      for (let item = type._start; item !== null; item = item.right) if (!item.deleted) item.delete(tr)
      for (const item of type._map.values()) if (!item.deleted) item.delete(tr)
    }
  }, origin)
}
