import type { Op, OpKind } from './Workload.js'

/** One edit the workload issued, and everything the harness learned about it afterwards. */
export interface EditRecord {
  token: string
  device: string
  doc: string
  kind: OpKind
  op: Op
  /** Milliseconds since the run started. */
  issuedAt: number
  /** The device applied it: the Yjs ids it inserted ([client, fromClock, toClock)) and deleted. */
  appliedAt?: number
  ins?: [number, number, number] | null
  del?: [number, number, number][]
  /** Durable in the device's own store. */
  localAt?: number
  /** Highest relay copy count an ACK reported for it (0: none). */
  copies: number
  copiesAt?: number
}

export type EntryKind = 'fault' | 'heal' | 'edit' | 'ack' | 'info'

/** One line of the timeline a failure prints. */
export interface TimelineEntry {
  at: number
  kind: EntryKind
  text: string
}

/** A store lost by the nemesis (a wiped data directory). */
export interface Wipe {
  target: string
  at: number
}

/**
 * Everything that happened in a run: edits with their acknowledgements, faults, wipes. The checker
 * reads it; a failure prints it.
 */
export class History {
  readonly t0 = Date.now()
  readonly edits = new Map<string, EditRecord>()
  readonly timeline: TimelineEntry[] = []
  readonly wipes: Wipe[] = []
  faults = 0
  readonly #ackListeners = new Set<(e: EditRecord) => void>()

  now(): number {
    return Date.now() - this.t0
  }

  log(kind: EntryKind, text: string): void {
    this.timeline.push({ at: this.now(), kind, text })
  }

  fault(text: string): void {
    this.faults++
    this.log('fault', text)
  }

  wiped(target: string): void {
    this.wipes.push({ target, at: this.now() })
  }

  issued(record: EditRecord): void {
    this.edits.set(record.token, record)
    this.log('edit', `${record.device} ${record.token} ${record.kind} on ${record.doc}`)
  }

  applied(token: string, ins: [number, number, number] | null, del: [number, number, number][]): void {
    const e = this.edits.get(token)
    if (!e) return
    e.appliedAt = this.now()
    e.ins = ins
    e.del = del
  }

  local(token: string): void {
    const e = this.edits.get(token)
    if (e && e.localAt === undefined) e.localAt = this.now()
  }

  acked(token: string, copies: number): void {
    const e = this.edits.get(token)
    if (!e || copies <= e.copies) return
    e.copies = copies
    e.copiesAt = this.now()
    this.log('ack', `${e.device} ${token} copies=${copies}`)
    for (const listener of [...this.#ackListeners]) listener(e)
  }

  /** Calls `listener` for every ACK that raised an edit's copy count; returns an unsubscribe function. */
  onAck(listener: (e: EditRecord) => void): () => void {
    this.#ackListeners.add(listener)
    return () => this.#ackListeners.delete(listener)
  }

  /** Edits the device reported durable in its own store or on at least one relay. */
  acknowledged(): EditRecord[] {
    return [...this.edits.values()].filter((e) => e.localAt !== undefined || e.copies > 0)
  }

  /** The timeline as text, one entry a line. */
  format(entries: readonly TimelineEntry[] = this.timeline): string {
    return entries
      .map((e) => `${(e.at / 1000).toFixed(3).padStart(8)}s ${e.kind.padEnd(5)} ${e.text}`)
      .join('\n')
  }
}
