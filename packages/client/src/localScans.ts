import type { DocStore } from '@rhizome/store'
import { coveringPrefixes, matchesAny } from './patterns.js'

/**
 * Local documents matching `patterns` that are not in `listed` (what a relay listed in a round
 * that is not resumed): the ones a new or wiped relay lacks (spec step 4, G3). Reads the catalog
 * once per covering literal prefix, in name order; corrupt documents are skipped.
 */
export async function* absentDocs(
  store: DocStore,
  patterns: readonly string[],
  listed: ReadonlySet<string>,
): AsyncIterable<string> {
  for (const prefix of coveringPrefixes(patterns)) {
    for await (const entry of store.catalog({ prefix })) {
      if (!entry.corrupt && !listed.has(entry.name) && matchesAny(patterns, entry.name)) yield entry.name
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
