import type { ChangeEntry } from '@rhizome/protocol'
import type { DocRegistry } from '../docs/DocRegistry.js'
import { anyPattern, coveringPrefixes } from './sessionPatterns.js'

/**
 * The entries of a resumed round (docs/PROTOCOL.md section 7.2): every document `wants` accepts
 * whose last change has a sequence number above `seq`, with its current digest. Reads the store's
 * change feed, so it costs what changed since `seq`, not what is stored. Documents with corrupt
 * records are left out (they are announced again once repaired).
 */
export async function* changedSince(
  docs: DocRegistry,
  seq: number,
  wants: (name: string) => boolean | Promise<boolean>,
): AsyncIterable<ChangeEntry> {
  // The feed may list a document changed during the listing a second time, at its new number.
  const seen = new Set<string>()
  for await (const { name } of docs.store.changesSince(seq)) {
    if (seen.has(name) || !(await wants(name))) continue
    seen.add(name)
    // A deletion is a change too: the device learns it and drops its copy (section 9).
    const deletedAt = docs.store.deletedAt(name)
    if (deletedAt !== null) {
      yield { doc: name, digest: '', deletedAt }
      continue
    }
    const digest = await docs.digestOf(name)
    if (digest !== null) yield { doc: name, digest }
  }
}

/**
 * The entries of a round that is not resumed: every stored document that `wants` accepts, found by
 * scanning the catalog under the literal prefix of each of `patterns` (each document read once),
 * with its current digest (from memory for a loaded document, else the catalog's). Documents with
 * corrupt records are left out.
 */
export async function* matchingDocs(
  docs: DocRegistry,
  patterns: readonly string[],
  wants: (name: string) => boolean | Promise<boolean>,
): AsyncIterable<ChangeEntry> {
  for (const prefix of coveringPrefixes(patterns)) {
    for await (const entry of docs.store.catalog({ prefix })) {
      if (docs.store.deletedAt(entry.name) !== null || !(await wants(entry.name))) continue
      const digest = docs.loaded(entry.name) ? await docs.digestOf(entry.name) : entry.digest
      if (digest !== null) yield { doc: entry.name, digest }
    }
  }
  // Tombstones too (a name and a time each), so a device holding a deleted document drops it.
  const matches = anyPattern(patterns)
  for (const { name, at } of docs.store.tombstones()) {
    if (matches(name) && (await wants(name))) {
      yield { doc: name, digest: '', deletedAt: at }
    }
  }
}
