// Synthetic documents of a given size for the recovery and idle scenarios: seeded, each written as a
// few updates (as a document grows in a session), deterministic from the seed.
import * as Y from 'yjs'
import { prng } from '../../support/seed.mjs'

/** `count` documents `doc-00000`... of about `bytes` each, each as `parts` updates. */
export function* syntheticDocs(count, { bytes = 10_000, parts = 5, seed = 9 } = {}) {
  const rand = prng(seed)
  for (let i = 0; i < count; i++) {
    const doc = new Y.Doc()
    doc.clientID = 1000 + i
    const text = doc.getText('t')
    const updates = []
    doc.on('update', (u) => updates.push(u))
    for (let p = 0; p < parts; p++) {
      let chunk = ''
      // Random letters: LevelDB's compression must not shrink the data set below its logical size.
      while (chunk.length < bytes / parts) chunk += String.fromCharCode(97 + Math.floor(rand() * 26))
      text.insert(text.length, chunk)
    }
    doc.destroy()
    yield [`doc-${String(i).padStart(5, '0')}`, updates]
  }
}
