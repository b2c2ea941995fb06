import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { revertUpdate } from '../src/index.js'
import { contentOfDoc, contentOfUpdate, RandomEditors, receiverDoc } from './historyEdits.js'

const FILE = 'packages/store/test/revert.test.ts'
const EDITS = Number(process.env.REVERT_EDITS ?? 160)

/** The document after the first `n` of `updates`, as one update (from a garbage-collecting doc, as a relay holds it). */
function stateAfter(updates: readonly Uint8Array[], n: number): Uint8Array {
  const doc = receiverDoc()
  Y.transact(doc, () => {
    for (const u of updates.slice(0, n)) Y.applyUpdate(doc, u)
  })
  const out = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return out
}

/** A garbage-collecting doc holding `updates`: the live document a revert is applied to. */
function liveDoc(updates: readonly Uint8Array[]): Y.Doc {
  const doc = receiverDoc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc
}

for (const round of [0, 1, 2]) {
  it(`reverts random edits of text, maps, arrays and XML to any earlier moment (round ${round})`, async () => {
    const seed = (testSeed() + round * 7919) >>> 0
    await withSeed(FILE, seed, async () => {
      const rnd = prng(seed)
      const editors = new RandomEditors(3, rnd)
      const updates: Uint8Array[] = []
      const contents: string[] = [contentOfUpdate(new Uint8Array([0, 0]))]
      const truth = receiverDoc()
      for (let i = 0; i < EDITS; i++) {
        const update = editors.edit(0.6)
        updates.push(update)
        Y.applyUpdate(truth, update)
        contents.push(contentOfDoc(truth))
      }
      const current = contentOfDoc(truth)
      // Targets: the start, the end, and random moments in between.
      const targets = [0, EDITS, ...Array.from({ length: 12 }, () => Math.floor(rnd() * EDITS))]
      for (const n of targets) {
        const revert = revertUpdate(stateAfter(updates, n), updates.slice(n))
        const doc = liveDoc(updates)
        Y.applyUpdate(doc, revert)
        expect(contentOfDoc(doc), `revert to after ${n} of ${EDITS} updates`).toBe(contents[n])
        // Reverting the revert gives the content from before it back.
        const undo = revertUpdate(Y.encodeStateAsUpdate(liveDoc(updates)), [revert])
        Y.applyUpdate(doc, undo)
        expect(contentOfDoc(doc), `revert of the revert to ${n}`).toBe(current)
        doc.destroy()
      }
      editors.destroy()
      truth.destroy()
    })
  })
}

it('reverts across an earlier revert, from one merged update of the later changes too', async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    const editors = new RandomEditors(2, rnd)
    const updates: Uint8Array[] = []
    for (let i = 0; i < 60; i++) updates.push(editors.edit(0.8))
    const contentAt = (n: number) => contentOfUpdate(stateAfter(updates, n))
    // Revert to 20, edit on, then revert to 40: a moment before the first revert.
    updates.push(revertUpdate(stateAfter(updates, 20), updates.slice(20)))
    expect(contentOfUpdate(stateAfter(updates, updates.length))).toBe(contentAt(20))
    for (let i = 0; i < 20; i++) updates.push(editors.edit(0.8))
    const merged = Y.mergeUpdates(updates.slice(40))
    const revert = revertUpdate(stateAfter(updates, 40), merged)
    const doc = liveDoc(updates)
    Y.applyUpdate(doc, revert)
    expect(contentOfDoc(doc)).toBe(contentAt(40))
    doc.destroy()
    editors.destroy()
  })
})

it('merges edits made concurrently with a revert on another replica', async () => {
  const seed = testSeed()
  await withSeed(FILE, seed, async () => {
    const rnd = prng(seed)
    const editors = new RandomEditors(3, rnd)
    const updates: Uint8Array[] = []
    for (let i = 0; i < 80; i++) updates.push(editors.edit(0.7))
    const target = 30
    const revert = revertUpdate(stateAfter(updates, target), updates.slice(target))
    const reverting = liveDoc(updates)
    const editing = liveDoc(updates)
    Y.applyUpdate(reverting, revert)
    // Concurrent edits, made without the revert.
    const concurrent: Uint8Array[] = []
    editing.on('update', (u: Uint8Array) => concurrent.push(u))
    editing.getText('t').insert(0, 'CONCURRENT')
    editing.getMap('m').set('late', 42)
    editing.getArray('a').push(['late'])
    editing.getXmlFragment('x').insert(0, [new Y.XmlElement('late')])
    Y.applyUpdate(editing, revert)
    for (const u of concurrent) Y.applyUpdate(reverting, u)
    expect(contentOfDoc(reverting)).toBe(contentOfDoc(editing))
    expect(reverting.getText('t').toString()).toContain('CONCURRENT')
    expect(reverting.getMap('m').get('late')).toBe(42)
    expect(reverting.getArray('a').toArray()).toContain('late')
    expect(reverting.getXmlFragment('x').toString()).toContain('<late></late>')
    // Without the concurrent edits, the content is the target's.
    const check = liveDoc(updates)
    Y.applyUpdate(check, revert)
    expect(contentOfDoc(check)).toBe(contentOfUpdate(stateAfter(updates, target)))
    editors.destroy()
  })
})

it('answers an update that changes nothing when nothing came later, and reverts root types created later', () => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'kept')
  const state = Y.encodeStateAsUpdate(doc)
  const nothing = revertUpdate(state, [])
  const copy = liveDoc([state])
  Y.applyUpdate(copy, nothing)
  expect(Y.encodeStateVector(copy)).toEqual(Y.encodeStateVector(doc))
  // A root type that did not exist at the target is emptied.
  const sv = Y.encodeStateVector(doc)
  doc.getMap('new-root').set('k', 'v')
  doc.getText('t').insert(4, '!')
  const later = Y.encodeStateAsUpdate(doc, sv)
  Y.applyUpdate(doc, revertUpdate(state, later))
  expect(doc.getMap('new-root').toJSON()).toEqual({})
  expect(doc.getText('t').toString()).toBe('kept')
})
