// The B4 editing trace (automerge-paper, CC BY 4.0, see ../data/README.md) turned into Yjs updates.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'

const here = dirname(fileURLToPath(import.meta.url))
const CANDIDATES = [
  join(here, '../data/automerge-paper.json.gz'),
  join(here, '../../../../shared/data/automerge-paper.json.gz'),
]

let cached = null

/** The trace as a flat list of patches `[pos, deleted, inserted]` plus its final text. */
export function loadTrace() {
  if (cached) return cached
  const file = CANDIDATES.find((f) => existsSync(f))
  if (!file) throw new Error(`B4 trace not found in ${CANDIDATES.join(' or ')}`)
  const raw = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'))
  const patches = []
  for (const txn of raw.txns) for (const p of txn.patches) patches.push(p)
  cached = { patches, endContent: raw.endContent, file }
  return cached
}

/**
 * Replays the first `count` edits on plain strings (independent of Yjs): the text every replica
 * must show after those edits.
 */
export function expectedText(count) {
  const { patches, endContent } = loadTrace()
  if (count >= patches.length) return endContent
  let text = ''
  for (let i = 0; i < count; i++) {
    const [pos, del, ins] = patches[i]
    text = text.slice(0, pos) + ins + text.slice(pos + del)
  }
  return text
}

/**
 * The first `count` edits as individual Yjs updates of text `name`, one transaction per edit,
 * made by a Y.Doc with the given client id. Returns the updates and the Y.Doc's resulting text.
 */
export function traceUpdates(count, { clientID = 1, name = 't' } = {}) {
  const { patches } = loadTrace()
  const n = Math.min(count, patches.length)
  const doc = new Y.Doc({ gc: true })
  doc.clientID = clientID
  const text = doc.getText(name)
  const updates = new Array(n)
  let i = 0
  doc.on('update', (u) => {
    updates[i] = u
  })
  for (; i < n; i++) {
    const [pos, del, ins] = patches[i]
    doc.transact(() => {
      if (del > 0) text.delete(pos, del)
      if (ins.length > 0) text.insert(pos, ins)
    })
  }
  const result = { updates, text: text.toString(), state: Y.encodeStateAsUpdate(doc) }
  doc.destroy()
  return result
}
