/** Every chaos document lives under this namespace; each device replicates all of it. */
export const CHAOS_NAMESPACE = 'chaos/**'

/**
 * The documents device number `index` opens (and so edits): all but every third one, offset by
 * the index. With three devices each document is open on two and only replicated on the third,
 * so every device holds documents it never opened, and every document has writers. The rest
 * reach the device through replication alone (docs/PROTOCOL.md section 7.1).
 */
export function openedBy(index: number, docs: readonly string[]): string[] {
  return docs.filter((_, i) => i % 3 !== index % 3)
}

/** The documents of `docs` that device number `index` never opens. */
export function neverOpenedBy(index: number, docs: readonly string[]): string[] {
  const open = new Set(openedBy(index, docs))
  return docs.filter((d) => !open.has(d))
}
