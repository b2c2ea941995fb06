import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { checkDocName, metaKey } from './keys.js'
import { type AnyLevel, RAW } from './records.js'

/**
 * For each of `names`, true when the document exists (even if it is corrupt), as `DocStore.has`
 * answers it, but with ONE `getMany` for every name the meta cache does not know instead of one
 * `get` each: a relay refilled by a device asks this for thousands of documents, and a LevelDB
 * lookup per document was the largest part of its time.
 * @throws TypeError for an invalid name (nothing is read).
 */
export async function existMany(
  db: AnyLevel,
  commit: GroupCommit,
  names: readonly string[],
): Promise<boolean[]> {
  for (const name of names) checkDocName(name)
  const out = names.map((name) => commit.cache.has(name))
  const missing: number[] = []
  for (let i = 0; i < names.length; i++) if (!out[i]) missing.push(i)
  if (missing.length === 0) return out
  const values = await db.getMany<string, Uint8Array>(
    missing.map((i) => metaKey(names[i]!)),
    RAW,
  )
  for (let j = 0; j < missing.length; j++) out[missing[j]!] = values[j] !== undefined
  return out
}
