import type { CommandSpec } from './args.js'
import { type CatalogDoc, compareNames, DEFAULT_PAGE_SIZE, streamCatalog } from './catalog.js'
import { Progress } from './progress.js'
import type { RelayEndpoint } from './relayUrl.js'
import { fetchTombstones } from './tombstoneCatalog.js'

/** `rhizome verify`: how it is called. */
export const VERIFY_SPEC: CommandSpec = {
  name: 'verify',
  usage: `Usage: rhizome verify URL URL ... [--token T] [--page-size N]

Compares the document catalogs (/docs) of two or more relays. Every relay's catalog is streamed
in name order and merged, so memory stays flat with any number of documents. Prints each
diverging document (a different digest, missing on some relay, corrupt on some relay, or
deleted on some relay and not on another: tombstones from /docs?deleted=1 are compared too) with
the state of every relay, then a summary line.

  URL              a relay's base URL: ws://, wss://, http:// or https://host:port
  --token T        admin token (or RHIZOME_TOKEN); needed where relays have --auth-secret
  --page-size N    documents per /docs request (1-1000, default 1000)

Output, one line per diverging document:
  diverged <doc>  <relay>,<relay>=<digest prefix>  <relay>=missing  <relay>=corrupt  <relay>=deleted@<ms>
then:
  verify: <R> relays, <N> documents, <C> converged, <D> diverged

A document being written while verify runs can show as diverged for a moment: run it again.
Exit status: 0 converged, 1 diverged, 2 usage, connection or authentication error.
`,
  options: { '--token': 'value', '--page-size': 'value' },
  positionals: { min: 2, max: Number.POSITIVE_INFINITY, names: 'at least two relay URLs' },
}

/** State of one document on one relay. */
export type DocState =
  | { kind: 'digest'; digest: string }
  | { kind: 'missing' }
  | { kind: 'corrupt' }
  | { kind: 'deleted'; at: number }

/** A document whose replicas differ, with every relay's state of it. */
export interface Divergence {
  name: string
  /** Per relay, in the order the relays were given. */
  states: DocState[]
}

/** Outcome of {@link verifyRelays}. */
export interface VerifyResult {
  relays: number
  docs: number
  converged: number
  diverged: number
}

/** Options of {@link verifyRelays}. */
export interface VerifyOptions {
  token?: string
  pageSize?: number
  /** Called for each diverging document as soon as it is known (streaming). */
  onDivergence?: (divergence: Divergence) => void
  progress?: Progress
}

/** A relay's catalog stream with its current head. */
class CatalogCursor {
  head: CatalogDoc | null = null
  readonly #stream: AsyncGenerator<CatalogDoc>

  constructor(stream: AsyncGenerator<CatalogDoc>) {
    this.#stream = stream
  }

  async advance(): Promise<void> {
    const next = await this.#stream.next()
    this.head = next.done ? null : next.value
  }

  async close(): Promise<void> {
    await this.#stream.return(undefined)
  }
}

function stateOf(doc: CatalogDoc | null, tombstones: Map<string, number>, name: string): DocState {
  const at = tombstones.get(name)
  if (doc === null) return at === undefined ? { kind: 'missing' } : { kind: 'deleted', at }
  if (doc.digest === null) return { kind: 'corrupt' }
  return { kind: 'digest', digest: doc.digest }
}

/**
 * Merge-compares the catalogs of `endpoints`: a document converges when every relay lists it
 * with the same digest. Streams: each relay contributes one page at a time.
 * @throws RhizomeError RELAY_UNAVAILABLE, AUTH_INVALID or AUTH_FORBIDDEN when a relay cannot be read.
 */
export async function verifyRelays(
  endpoints: readonly RelayEndpoint[],
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const cursors = endpoints.map(
    (e) =>
      new CatalogCursor(
        streamCatalog(e, { token: options.token, pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE }),
      ),
  )
  const result: VerifyResult = { relays: endpoints.length, docs: 0, converged: 0, diverged: 0 }
  const tombstones = await Promise.all(endpoints.map((e) => fetchTombstones(e, options.token)))
  const unseen = new Set(tombstones.flatMap((t) => [...t.keys()]))
  const tally = (name: string, states: DocState[]) => {
    result.docs++
    const first = states[0]!
    const same = states.every((s) => sameState(s, first))
    if (same) result.converged++
    else {
      result.diverged++
      options.onDivergence?.({ name, states })
    }
    options.progress?.update(result.docs)
  }
  try {
    await Promise.all(cursors.map((c) => c.advance()))
    for (;;) {
      let name: string | null = null
      for (const c of cursors) {
        if (c.head !== null && (name === null || compareNames(c.head.name, name) < 0)) name = c.head.name
      }
      if (name === null) break
      const current = name
      const heads = cursors.map((c) => (c.head?.name === current ? c.head : null))
      unseen.delete(current)
      tally(
        current,
        heads.map((h, i) => stateOf(h, tombstones[i]!, current)),
      )
      await Promise.all(cursors.filter((_, i) => heads[i] !== null).map((c) => c.advance()))
    }
    // Documents no catalog lists: deleted on every relay (converged) or deleted on some only.
    for (const name of [...unseen].sort(compareNames)) {
      tally(
        name,
        tombstones.map((t) => stateOf(null, t, name)),
      )
    }
  } finally {
    // Not awaited: after a failure another cursor may still wait on a slow relay's page.
    for (const c of cursors) c.close().catch(() => {})
  }
  return result
}

/** Converged states: the same digest everywhere, or deleted everywhere at the same time. */
function sameState(a: DocState, b: DocState): boolean {
  if (a.kind === 'digest' && b.kind === 'digest') return a.digest === b.digest
  if (a.kind === 'deleted' && b.kind === 'deleted') return a.at === b.at
  return false
}

function label(state: DocState): string {
  if (state.kind === 'digest') return state.digest.slice(0, 12)
  if (state.kind === 'deleted') return `deleted@${state.at}`
  return state.kind
}

/**
 * One output line for a diverging document: relays grouped by what they hold, the largest group
 * first, e.g. `diverged notes/a  ws://a,ws://b=3f2a9c1b7e0d  ws://c=missing`.
 */
export function formatDivergence(divergence: Divergence, relays: readonly RelayEndpoint[]): string {
  const groups = new Map<string, string[]>()
  divergence.states.forEach((state, i) => {
    const key = label(state)
    const members = groups.get(key) ?? []
    members.push(relays[i]!.input)
    groups.set(key, members)
  })
  const parts = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([key, members]) => `${members.join(',')}=${key}`)
  return `diverged ${divergence.name}  ${parts.join('  ')}`
}

/** The summary line printed after the per-document lines. */
export function formatVerifySummary(result: VerifyResult): string {
  return `verify: ${result.relays} relays, ${result.docs} documents, ${result.converged} converged, ${result.diverged} diverged`
}

/** Runs `verify` and prints its report; returns the exit status (0 converged, 1 diverged). */
export async function runVerify(
  endpoints: readonly RelayEndpoint[],
  options: { token?: string; pageSize?: number },
  out: (line: string) => void,
): Promise<number> {
  const progress = new Progress('verify: comparing documents')
  try {
    const result = await verifyRelays(endpoints, {
      ...options,
      progress,
      onDivergence: (d) => {
        progress.clear()
        out(formatDivergence(d, endpoints))
      },
    })
    progress.clear()
    out(formatVerifySummary(result))
    return result.diverged === 0 ? 0 : 1
  } finally {
    progress.clear()
  }
}
