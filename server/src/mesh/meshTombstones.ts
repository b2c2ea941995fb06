import type { MeshTombstone } from '@rhizome/protocol'

/** Tombstone records per `tombstones` mesh message (each a name and two numbers: well under a chunk). */
export const TOMBSTONE_PAGE = 1000

/**
 * The records of one anti-entropy round in pages of {@link TOMBSTONE_PAGE}, in order. A round
 * sends them before its catalog, so that the peer knows what is deleted before it compares
 * digests: a wiped peer never pulls a deleted document back, and a peer holding a live copy deletes
 * it instead of offering it (docs/PROTOCOL.md section 9).
 */
export function tombstonePages(records: readonly MeshTombstone[]): MeshTombstone[][] {
  const pages: MeshTombstone[][] = []
  for (let at = 0; at < records.length; at += TOMBSTONE_PAGE) {
    pages.push(
      records
        .slice(at, at + TOMBSTONE_PAGE)
        .map(({ name, deleted, at: when }) => ({ name, deleted, at: when })),
    )
  }
  return pages
}
