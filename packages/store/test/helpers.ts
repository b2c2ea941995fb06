import { digestOfDoc } from '@rhizome/protocol'
import * as Y from 'yjs'

/** A Y.Doc that records every update it emits, as a client replica would send them. */
export interface Editor {
  doc: Y.Doc
  updates: Uint8Array[]
}

/** Creates an {@link Editor} with a fixed client id (deterministic encodings). */
export function editor(clientID = 1): Editor {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  return { doc, updates }
}

/** Makes `n` small text edits (inserts and some deletes) and returns the updates they produced. */
export function typeInto(ed: Editor, n: number, label = 'x'): Uint8Array[] {
  const from = ed.updates.length
  const text = ed.doc.getText('t')
  for (let i = 0; i < n; i++) {
    if (i % 7 === 6 && text.length > 2) text.delete(text.length - 2, 1)
    else text.insert(text.length, label + i)
  }
  return ed.updates.slice(from)
}

/** Digest of the state an update describes. */
export function digestOf(update: Uint8Array): string {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const d = digestOfDoc(doc)
  doc.destroy()
  return d
}

/** Content (toJSON of the shared types used by the tests) of the state an update describes. */
export function contentOf(update: Uint8Array): unknown {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const out = { t: doc.getText('t').toString(), m: doc.getMap('m').toJSON(), a: doc.getArray('a').toJSON() }
  doc.destroy()
  return out
}

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}
