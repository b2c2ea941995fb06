import { createHash } from 'node:crypto'
import { digestOfDoc } from '@rhizome/protocol'
import * as Y from 'yjs'
import { catalogOf } from '../support/catalog.mjs'
import { readDoc } from '../support/rawClient.js'
import type { DocSummary } from './ChaosDevice.js'
import type { Cluster } from './Cluster.js'
import type { EditRecord } from './History.js'
import { MAP_KEYS } from './Workload.js'

const EMPTY_DIGEST = digestOfDoc(new Y.Doc())

/** What the checker found; a run passes when every list is empty. */
export interface CheckResult {
  /** Acknowledged edits missing from the final state (and not excused by wipes). */
  lost: { token: string; why: string; record: EditRecord }[]
  /** Acknowledged edits whose every holder was wiped (allowed to be missing; counted). */
  excused: number
  /** Content in the final state that no device ever wrote. */
  unexpected: string[]
  /** Documents whose replicas differ after the quiet period. */
  diverged: string[]
  /** Processes that died without the nemesis. */
  dead: string[]
  figures: Figures
}

export interface Figures {
  edits: number
  applied: number
  acknowledged: number
  acked1: number
  acked2: number
  acked3: number
  faults: number
  lost: number
  unexpected: number
  docsConverged: string
  replicas: string
  quietMs: number
}

function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson)
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((k) => [k, sortedJson(obj[k])]),
    )
  }
  return value
}

/** The same content hash test/chaos/device.mjs reports. */
export function contentHash(doc: Y.Doc): string {
  const content = JSON.stringify(
    sortedJson({
      t: doc.getText('t').toString(),
      m: doc.getMap('m').toJSON(),
      a: doc.getArray('a').toJSON(),
      ledger: doc.getMap('ledger').toJSON(),
    }),
  )
  return createHash('sha256').update(content).digest('hex')
}

/** Digest per document of every relay (from /docs, directly, not through a proxy) and device. */
async function snapshotDigests(cluster: Cluster): Promise<Map<string, Map<string, string | null>>> {
  const byReplica = new Map<string, Map<string, string | null>>()
  await Promise.all([
    ...cluster.relays.map(async (relay) => {
      const catalog = await catalogOf(relay.httpUrl)
      const digests = new Map<string, string | null>()
      for (const doc of cluster.docs) digests.set(doc, catalog.has(doc) ? catalog.get(doc)! : EMPTY_DIGEST)
      byReplica.set(relay.name, digests)
    }),
    ...cluster.devices.map(async (device) => {
      const report: Record<string, DocSummary> = await device.report()
      const digests = new Map<string, string | null>()
      // A document nobody wrote yet is in no relay catalog and in no store that did not open it:
      // like a relay, such a device holds the empty document.
      for (const doc of cluster.docs) digests.set(doc, report[doc]?.digest ?? EMPTY_DIGEST)
      byReplica.set(device.name, digests)
    }),
  ])
  return byReplica
}

function divergedDocs(cluster: Cluster, byReplica: Map<string, Map<string, string | null>>): string[] {
  const out: string[] = []
  for (const doc of cluster.docs) {
    const seen = new Map<string, string[]>()
    for (const [replica, digests] of byReplica) {
      const d = digests.get(doc) ?? 'missing'
      seen.set(d ?? 'corrupt', [...(seen.get(d ?? 'corrupt') ?? []), replica])
    }
    if (seen.size !== 1 || seen.has('corrupt') || seen.has('missing')) {
      out.push(
        `${doc}: ${[...seen].map(([d, replicas]) => `${d.slice(0, 10)}@${replicas.join(',')}`).join('  ')}`,
      )
    }
  }
  return out
}

/**
 * Waits (polling, with a deadline) until every relay and every device holds the same digest for
 * every document. Returns the documents still diverging at the deadline (empty when converged)
 * and how long it took.
 */
export async function awaitConvergence(
  cluster: Cluster,
  timeoutMs: number,
): Promise<{ diverged: string[]; ms: number }> {
  const start = Date.now()
  let diverged: string[] = ['not checked yet']
  let lastLog = start
  while (Date.now() - start < timeoutMs) {
    try {
      diverged = divergedDocs(cluster, await snapshotDigests(cluster))
    } catch (err) {
      diverged = [`could not read every replica: ${(err as Error).message}`]
    }
    if (diverged.length === 0) break
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now()
      cluster.history.log(
        'info',
        `still diverging after ${lastLog - start} ms: ${diverged.slice(0, 3).join('; ')}`,
      )
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  return { diverged, ms: Date.now() - start }
}

/** True when `ranges` of the delete set of `doc` cover [clock, clock + len) of `client`. */
function deleted(
  ds: ReturnType<typeof Y.createDeleteSetFromStructStore>,
  client: number,
  clock: number,
  len: number,
): boolean {
  const items = ds.clients.get(client) ?? []
  let at = clock
  const end = clock + len
  for (const item of [...items].sort((a, b) => a.clock - b.clock)) {
    if (item.clock <= at && item.clock + item.len > at) at = item.clock + item.len
    if (at >= end) return true
  }
  return at >= end
}

/**
 * Excused: every store that could hold the edit was wiped after it was made, i.e. its device's
 * store and at least as many relays as acknowledged it (G2: losing `k-1` relays plus the device
 * loses nothing).
 */
function excused(cluster: Cluster, e: EditRecord): boolean {
  const wipesAfter = cluster.history.wipes.filter((w) => w.at >= e.issuedAt)
  if (!wipesAfter.some((w) => w.target === e.device)) return false
  const relays = new Set(wipesAfter.filter((w) => w.target.startsWith('r')).map((w) => w.target))
  return relays.size >= e.copies
}

/**
 * The final check, after every fault is healed: waits for convergence, then reads every document
 * from the first relay and checks lost / unexpected / converged / alive.
 */
export async function check(
  cluster: Cluster,
  { quietTimeoutMs = 90_000, reference = cluster.relays[0]!.name } = {},
): Promise<CheckResult> {
  const history = cluster.history
  const { diverged, ms } = await awaitConvergence(cluster, quietTimeoutMs)
  history.log('info', `quiet after ${ms} ms; ${diverged.length} documents diverge`)

  const lost: CheckResult['lost'] = []
  const unexpected: string[] = []
  let excusedCount = 0
  const issued = [...history.edits.values()]
  const arrayTokens = new Set(issued.filter((e) => e.kind === 'array-push').map((e) => e.token))
  const mapTokens = new Map(issued.filter((e) => e.op.kind === 'map-set').map((e) => [e.token, e]))

  const referenceRelay = cluster.relay(reference)
  const reports = new Map<string, Record<string, DocSummary>>()
  for (const device of cluster.devices) reports.set(device.name, await device.report().catch(() => ({})))

  for (const name of cluster.docs) {
    const doc = await readDoc(referenceRelay.directUrl, name)
    const sv = Y.decodeStateVector(Y.encodeStateVector(doc))
    const ds = Y.createDeleteSetFromStructStore(doc.store)
    const ledger = doc.getMap<string>('ledger')

    // lost: the ledger entry, the inserted ids and the deleted ids of every acknowledged edit.
    for (const e of history.acknowledged()) {
      if (e.doc !== name) continue
      let why = ''
      if (ledger.get(e.token) !== e.device) why = 'ledger entry missing'
      else if (e.ins && (sv.get(e.ins[0]) ?? 0) < e.ins[2])
        why = `inserted ids ${e.ins[0]}:${e.ins[1]}-${e.ins[2]} missing (state ${sv.get(e.ins[0]) ?? 0})`
      else {
        const miss = (e.del ?? []).find(([c, clock, len]) => !deleted(ds, c, clock, len))
        if (miss) why = `deletion ${miss.join(':')} missing`
      }
      if (!why) continue
      if (excused(cluster, e)) excusedCount++
      else lost.push({ token: e.token, why, record: e })
    }

    // unexpected: every piece of content must come from an issued edit.
    for (const key of doc.share.keys()) {
      if (!['t', 'm', 'a', 'ledger'].includes(key)) unexpected.push(`${name}: root type ${key}`)
    }
    for (const [token, device] of ledger) {
      const e = history.edits.get(token)
      if (!e || e.device !== device || e.doc !== name) unexpected.push(`${name}: ledger ${token}=${device}`)
    }
    // Text: a text insert and its ledger entry share a transaction, so two inserts never merge
    // into one Yjs item; every visible item must be a piece of one issued `‹token›` string.
    const textInserts = issued.flatMap((e) =>
      e.op.kind === 'text-insert' && e.doc === name ? [e.op.text] : [],
    )
    for (let item = doc.getText('t')._start; item !== null; item = item.right) {
      if (item.deleted) continue
      const str = (item.content as { str?: unknown }).str
      if (typeof str !== 'string') {
        unexpected.push(`${name}: text holds a non-string item`)
        continue
      }
      if (!textInserts.some((t) => t.includes(str)))
        unexpected.push(`${name}: text ${JSON.stringify(str.slice(0, 60))} is part of no issued insert`)
    }
    const seen = new Set<string>()
    for (const value of doc.getArray<string>('a').toArray()) {
      if (!arrayTokens.has(value)) unexpected.push(`${name}: array element ${JSON.stringify(value)}`)
      if (seen.has(value)) unexpected.push(`${name}: array element ${value} twice`)
      seen.add(value)
    }
    for (const [key, value] of doc.getMap<string>('m')) {
      const e = mapTokens.get(value)
      if (!MAP_KEYS.includes(key) || !e || e.op.kind !== 'map-set' || e.op.key !== key || e.doc !== name)
        unexpected.push(`${name}: map ${key}=${JSON.stringify(value)}`)
    }

    // converged content: every device shows exactly what the relay holds.
    const hash = contentHash(doc)
    for (const [device, report] of reports) {
      if (report[name] && report[name].content !== hash)
        diverged.push(`${name}: content differs on ${device}`)
    }
    doc.destroy()
  }

  const dead = cluster
    .unexpectedDeaths()
    .map((d) => `${d.name} exited (code ${d.code}, signal ${d.signal}):\n${d.logTail}`)
  const acknowledged = history.acknowledged()
  const figures: Figures = {
    edits: issued.length,
    applied: issued.filter((e) => e.appliedAt !== undefined).length,
    acknowledged: acknowledged.length,
    acked1: issued.filter((e) => e.copies >= 1).length,
    acked2: issued.filter((e) => e.copies >= 2).length,
    acked3: issued.filter((e) => e.copies >= 3).length,
    faults: history.faults,
    lost: lost.length,
    unexpected: unexpected.length,
    docsConverged: `${cluster.docs.length - new Set(diverged.map((d) => d.split(':')[0])).size}/${cluster.docs.length}`,
    replicas: `${cluster.relays.length} relays + ${cluster.devices.length} devices`,
    quietMs: ms,
  }
  return { lost, excused: excusedCount, unexpected, diverged, dead, figures }
}
