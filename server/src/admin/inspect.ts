import { digestOfUpdate, ErrorCode, isRhizomeError, RhizomeError } from '@rhizome/protocol'
import { DocStore, decodeChecked } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import type { CommandSpec } from './args.js'
import { Progress } from './progress.js'

/** `rhizome inspect`: how it is called. */
export const INSPECT_SPEC: CommandSpec = {
  name: 'inspect',
  usage: `Usage: rhizome inspect --data DIR

Lists every document in the data directory of a stopped relay, reading each one through the
store so that every record's checksum is verified. One line per document, tab-separated:

  <name>  <bytes>  ok|corrupt  <digest or ->

then a summary line:

  inspect: <N> documents, <B> bytes, <K> corrupt

A document found corrupt is marked for repair in the store (as the relay itself would), so a
relay started on DIR refetches it from its peers. A running relay holds the directory's lock:
back it up (rhizome backup), restore the backup elsewhere and inspect that copy.

  --data DIR     the relay's data directory

Exit status: 0 clean, 1 corrupt records found, 2 usage error or directory in use.
`,
  options: { '--data': 'value' },
  positionals: { min: 0, max: 0, names: 'no arguments besides --data' },
}

/** One document as inspect reports it. */
export interface InspectedDoc {
  name: string
  bytes: number
  ok: boolean
  /** Digest of the verified contents; `null` when corrupt. */
  digest: string | null
}

/** Totals of {@link inspectDataDir}. */
export interface InspectSummary {
  docs: number
  bytes: number
  corrupt: number
  /** The store id record itself failed its checksum. */
  storeIdDamaged: boolean
}

async function openLevel(dataDir: string): Promise<ClassicLevel<string, Uint8Array>> {
  const db = new ClassicLevel<string, Uint8Array>(dataDir, { valueEncoding: 'view', createIfMissing: false })
  try {
    await db.open()
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string; message?: string } }
    const code = e.cause?.code ?? e.code
    if (code === 'LEVEL_LOCKED') {
      throw new RhizomeError(
        ErrorCode.USAGE,
        `--data ${dataDir} is in use by a running relay: stop it, or inspect a restored backup`,
      )
    }
    throw new RhizomeError(
      ErrorCode.USAGE,
      `--data ${dataDir} is not a relay data directory (${e.cause?.message ?? (err as Error).message})`,
      { cause: err },
    )
  }
  return db
}

/**
 * Reads every document of the store in `dataDir` through DocStore (each record's checksum
 * verified) and reports it. Documents known only by a repair marker are reported corrupt.
 * @throws RhizomeError USAGE when the directory is missing, not a store, or locked by a relay.
 */
export async function inspectDataDir(
  dataDir: string,
  onDoc: (doc: InspectedDoc) => void,
  progress?: Progress,
): Promise<InspectSummary> {
  const db = await openLevel(dataDir)
  const rawId = await db.get('s:id')
  const storeIdDamaged = rawId !== undefined && decodeChecked('s:id', rawId) === null
  const store = await DocStore.open(db, { onError: () => {} })
  const summary: InspectSummary = { docs: 0, bytes: 0, corrupt: 0, storeIdDamaged }
  progress?.setTotal(store.docCount)
  const report = (doc: InspectedDoc) => {
    summary.docs++
    summary.bytes += doc.bytes
    if (!doc.ok) summary.corrupt++
    progress?.advance()
    onDoc(doc)
  }
  try {
    for await (const entry of store.catalog()) {
      if (entry.corrupt) {
        report({ name: entry.name, bytes: entry.bytes, ok: false, digest: null })
        continue
      }
      try {
        const update = await store.getUpdate(entry.name)
        report({
          name: entry.name,
          bytes: entry.bytes,
          ok: true,
          digest: update === null ? null : digestOfUpdate(update),
        })
      } catch (err) {
        if (!isRhizomeError(err, ErrorCode.STORE_CORRUPT)) throw err
        report({ name: entry.name, bytes: entry.bytes, ok: false, digest: null })
      }
    }
    // A repair marker without a meta record: the document's records exist only partly.
    for await (const name of store.corruptDocs()) {
      if (!(await store.has(name))) report({ name, bytes: 0, ok: false, digest: null })
    }
  } finally {
    await store.close()
  }
  return summary
}

/** One output line of a document. */
export function formatInspectedDoc(doc: InspectedDoc): string {
  return `${doc.name}\t${doc.bytes}\t${doc.ok ? 'ok' : 'corrupt'}\t${doc.digest ?? '-'}`
}

/** The summary line. */
export function formatInspectSummary(summary: InspectSummary): string {
  const id = summary.storeIdDamaged ? ', store id record damaged' : ''
  return `inspect: ${summary.docs} documents, ${summary.bytes} bytes, ${summary.corrupt} corrupt${id}`
}

/** Runs `inspect`; returns the exit status (0 clean, 1 corrupt records found). */
export async function runInspect(dataDir: string, print: (line: string) => void): Promise<number> {
  const progress = new Progress('inspect: documents')
  try {
    const summary = await inspectDataDir(
      dataDir,
      (doc) => {
        progress.clear()
        print(formatInspectedDoc(doc))
      },
      progress,
    )
    progress.clear()
    print(formatInspectSummary(summary))
    return summary.corrupt > 0 || summary.storeIdDamaged ? 1 : 0
  } finally {
    progress.clear()
  }
}
