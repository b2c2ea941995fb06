import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  decodeMessage,
  EMPTY_STATE_VECTOR,
  EMPTY_UPDATE,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../src/index.js'

describe('empty document state', () => {
  it('EMPTY_UPDATE is the v1 update of an empty Y.Doc and changes nothing when applied', () => {
    expect(EMPTY_UPDATE).toEqual(Y.encodeStateAsUpdate(new Y.Doc()))
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'kept')
    const before = Y.encodeStateAsUpdate(doc)
    Y.applyUpdate(doc, EMPTY_UPDATE)
    expect(Y.encodeStateAsUpdate(doc)).toEqual(before)
  })

  it('EMPTY_STATE_VECTOR is the state vector of an empty Y.Doc and asks for everything', () => {
    expect(EMPTY_STATE_VECTOR).toEqual(Y.encodeStateVector(new Y.Doc()))
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'all of it')
    expect(Y.encodeStateAsUpdate(doc, EMPTY_STATE_VECTOR)).toEqual(Y.encodeStateAsUpdate(doc))
  })

  it('round-trips through the SYNC messages that carry them', () => {
    expect(decodeMessage(encodeSyncStep1(EMPTY_STATE_VECTOR))).toEqual({
      type: 'sync-step1',
      stateVector: EMPTY_STATE_VECTOR,
    })
    expect(decodeMessage(encodeSyncStep2(EMPTY_UPDATE))).toEqual({ type: 'sync-step2', update: EMPTY_UPDATE })
    expect(decodeMessage(encodeSyncUpdate(EMPTY_UPDATE))).toEqual({
      type: 'sync-update',
      update: EMPTY_UPDATE,
    })
  })
})
