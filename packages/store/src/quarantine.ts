/**
 * Quarantine of damaged documents: a persisted repair marker per document that holds a record
 * failing its checksum (or one Yjs cannot apply). A quarantined document is never served; reads
 * throw {@link corruptError} until `DocStore.repair` rewrites it and clears the marker.
 */
import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import { decodeChecked } from './checksum.js'
import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { nameOfRepairKey, repairRange } from './keys.js'
import { type AnyLevel, RAW } from './records.js'

/** The error reads of a damaged (or quarantined) document throw. */
export function corruptError(name: string): RhizomeError {
  return new RhizomeError(ErrorCode.STORE_CORRUPT, `document ${JSON.stringify(name)} has damaged records`, {
    doc: name,
  })
}

/** Names of documents with a persisted repair marker, in name order. */
export async function* quarantinedDocs(db: AnyLevel): AsyncIterable<string> {
  for await (const key of db.keys<string>({ ...repairRange(), keyEncoding: 'utf8' })) {
    yield nameOfRepairKey(key)
  }
}

/** Loads the repair markers once, at open: the set a store keeps current from then on. */
export async function loadQuarantined(db: AnyLevel): Promise<Set<string>> {
  const quarantined = new Set<string>()
  for await (const name of quarantinedDocs(db)) quarantined.add(name)
  return quarantined
}

/**
 * Persists the repair marker if one of `keys` still holds a damaged value (a repair may have
 * replaced it since it was read). Resolves once that commit is durable.
 */
export async function quarantineDamaged(
  commit: GroupCommit,
  db: AnyLevel,
  name: string,
  keys: readonly string[],
): Promise<void> {
  await commit.enqueue({
    name,
    run: async (batch) => {
      for (const key of keys) {
        const value = await db.get<string, Uint8Array>(key, RAW)
        if (value !== undefined && decodeChecked(key, value) === null) {
          batch.markCorrupt(name, key)
          return
        }
      }
    },
  })
}

/** Persists the repair marker for a document whose records Yjs cannot apply. */
export async function quarantineUnappliable(
  commit: GroupCommit,
  name: string,
  cause: unknown,
): Promise<void> {
  const reason = `a record cannot be applied: ${cause instanceof Error ? cause.message : String(cause)}`
  await commit.enqueue({ name, run: async (batch) => batch.markCorrupt(name, reason) })
}
