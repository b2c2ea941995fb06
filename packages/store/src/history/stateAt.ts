/**
 * Reconstructing a document as it was at a moment, from a Y.Doc that keeps deleted content (the
 * history doc: the document's snapshot and log applied with `gc: false`) and the effects of the
 * changes received after that moment. Yjs ids make this exact: the state at a moment is a Yjs
 * snapshot (state vector plus delete set) of the history doc, namely the current one without the
 * clocks those later changes inserted and without the deletions they made.
 */
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { withoutFormattingCleanup } from '../formattingCleanup.js'
import { type ClockRanges, normalizeRanges, subtractRanges, unionRanges } from './clockRanges.js'
import type { Effect } from './effects.js'

const GUID = 'rhizome-history'

/** A scratch Y.Doc that keeps deleted content, as reconstruction needs, and formatting as received. */
export function historyDoc(): Y.Doc {
  // A fixed guid avoids a cryptographic random draw per scratch document.
  return withoutFormattingCleanup(new Y.Doc({ gc: false, guid: GUID }))
}

/**
 * The Yjs snapshot of `doc` (a history doc) before the changes `later`: those applied after
 * everything else it holds, in any order. Each later change's inserted clocks are a suffix of
 * its client's clocks, so the state vector ends where the earliest of them starts.
 */
export function snapshotWithout(doc: Y.Doc, later: readonly Effect[]): Y.Snapshot {
  const current = Y.snapshot(doc)
  const sv = new Map(current.sv)
  const removed = new Map<number, ClockRanges[]>()
  for (const effect of later) {
    for (const [client, from] of effect.inserts) {
      const clock = sv.get(client)
      if (clock !== undefined && from < clock) sv.set(client, from)
    }
    for (const [client, ranges] of effect.deletes) {
      const lists = removed.get(client)
      if (lists === undefined) removed.set(client, [ranges])
      else lists.push(ranges)
    }
  }
  const enc = encoding.createEncoder()
  // Delete set, then state vector: the v1 encoding of a Yjs snapshot (`Y.encodeSnapshot`).
  const ds: [number, ClockRanges][] = []
  for (const [client, items] of current.ds.clients) {
    const flat: number[] = []
    for (const item of items) flat.push(item.clock, item.len)
    let ranges = normalizeRanges(flat)
    const lists = removed.get(client)
    if (lists !== undefined) ranges = subtractRanges(ranges, unionRanges(lists))
    // Deletions of clocks beyond the state vector would only stay pending in the result.
    const end = sv.get(client) ?? 0
    ranges = subtractRanges(ranges, [end, Number.MAX_SAFE_INTEGER - end])
    if (ranges.length > 0) ds.push([client, ranges])
  }
  encoding.writeVarUint(enc, ds.length)
  for (const [client, ranges] of ds) {
    encoding.writeVarUint(enc, client)
    encoding.writeVarUint(enc, ranges.length / 2)
    for (let i = 0; i < ranges.length; i++) encoding.writeVarUint(enc, ranges[i]!)
  }
  const clocks = [...sv].filter(([, clock]) => clock > 0)
  encoding.writeVarUint(enc, clocks.length)
  for (const [client, clock] of clocks) {
    encoding.writeVarUint(enc, client)
    encoding.writeVarUint(enc, clock)
  }
  return Y.decodeSnapshot(encoding.toUint8Array(enc))
}

/**
 * The document `doc` (a history doc) as of `snapshot`, as one Yjs v1 update with the content
 * deleted by then garbage-collected. Splits items of `doc` at the snapshot's boundaries.
 */
export function encodeStateAt(doc: Y.Doc, snapshot: Y.Snapshot): Uint8Array {
  const state = withoutFormattingCleanup(new Y.Doc({ guid: GUID }))
  try {
    Y.createDocFromSnapshot(doc, snapshot, state)
    return Y.encodeStateAsUpdate(state)
  } finally {
    state.destroy()
  }
}

/**
 * What `doc` (a history doc) holds beyond `snapshot`, as one Yjs v1 update: every struct after the
 * snapshot's state vector, with its content even where it was deleted since, and the delete set.
 * Applied to the state of {@link encodeStateAt} it gives the current document back.
 */
export function changesAfter(doc: Y.Doc, snapshot: Y.Snapshot): Uint8Array {
  return Y.encodeStateAsUpdate(doc, Y.encodeStateVector(snapshot.sv))
}
