import type { GroupCommit } from './groupCommit/GroupCommit.js'
import { setSummary } from './meta.js'

/**
 * Records the digest and state vector of a document whose whole content is the one update just
 * appended to it, computed by the caller from exactly that update (a relay that checked a pushed
 * or pulled document on a scratch Y.Doc before storing it): catalogs and anti-entropy then need not
 * read and merge the new document again. Call it right after that `append`, in the same turn, so
 * that both jobs go into one commit. The summary is recorded only when, at its turn in the commit,
 * the document holds exactly one log record and no snapshot (so that record is the caller's) and
 * no summary yet; otherwise nothing happens and the digest is computed on the next read as usual.
 * Resolves once durable.
 */
export function noteFirstSummary(
  commit: GroupCommit,
  name: string,
  digest: string,
  stateVector: Uint8Array,
): Promise<void> {
  return commit.enqueue({
    name,
    run: async (batch) => {
      const staged = await batch.meta(name)
      if (staged === null || commit.quarantined.has(name)) return
      const { meta } = staged
      if (meta.updates !== 1 || meta.snapshotBytes !== 0 || meta.digest !== null) return
      setSummary(meta, digest, stateVector)
      batch.touch(name)
    },
  })
}
