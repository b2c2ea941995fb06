import type { DocStore, ScannedState } from '@rhizome/store'
import { coveringPrefixes, matchesAny } from './patterns.js'

/**
 * Local documents matching `patterns` that are not in `listed` (what a relay listed in a round
 * that is not resumed), each with its whole state as one update: the ones a new or wiped relay
 * lacks (spec step 4, G3). Reads the store in one scan per covering literal prefix, in name order,
 * not one read per document (a device refilling a wiped relay pushes every document it holds);
 * corrupt documents are skipped.
 */
export async function* absentStates(
  store: DocStore,
  patterns: readonly string[],
  listed: ReadonlySet<string>,
): AsyncIterable<ScannedState> {
  for (const prefix of coveringPrefixes(patterns)) {
    for await (const state of store.scanStates(prefix)) {
      if (!listed.has(state.name) && matchesAny(patterns, state.name)) yield state
    }
  }
}

/**
 * Local documents matching `patterns` whose last change has a sequence number in `(since, until]`,
 * from the store's change feed: costs what changed locally since the local checkpoint.
 */
export async function* localChanges(
  store: DocStore,
  since: number,
  until: number,
  patterns: readonly string[],
): AsyncIterable<string> {
  for await (const change of store.changesSince(since)) {
    if (change.seq > until) return
    if (matchesAny(patterns, change.name)) yield change.name
  }
}
