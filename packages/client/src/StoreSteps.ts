import type { SessionSyncStep } from '@rhizome/protocol'
import type { LocalDocs } from './LocalDocs.js'

/** What {@link StoreSteps} needs of its session's sync. */
export interface StepSync {
  readonly local: LocalDocs
  /** The socket epoch: an answer that sees it change is dropped. */
  epoch(): number
  /** The origin local store writes of relay updates carry (the session). */
  origin(): unknown
  /** Sends `diff` as the step2 answering the relay's step1 of `doc`. */
  reply(doc: string, diff: Uint8Array): void
  /** One relay step1 was answered (or could not be): a round may be complete now. */
  replied(): void
  /** An update of `doc` from the relay went into the local store (`live`: an update; `answer`: a step2). */
  stored(doc: string, update: Uint8Array, kind: 'live' | 'answer'): void
  /** A step2 of `doc` answered our oldest step1 of it. */
  answered(doc: string): void
}

/**
 * The sync steps of the relay for documents that are not open (docs/PROTOCOL.md section 7.2),
 * between the socket and the local store: its step1s answered with a diff, its step2s and
 * updates applied. Open documents get theirs through their link.
 */
export class StoreSteps {
  readonly #sync: StepSync
  /** Relay step1s being answered (a diff is being read). */
  #answering = 0

  /** Handles nothing until {@link onSync}. */
  constructor(sync: StepSync) {
    this.#sync = sync
  }

  /** True while a relay step1 of this socket is being answered. */
  get answering(): boolean {
    return this.#answering > 0
  }

  /** The socket changed: answers being read are no longer counted (and are dropped when read). */
  reset(): void {
    this.#answering = 0
  }

  /** Handles one `sync` message of the relay for a document that is not open. Never throws. */
  onSync(doc: string, step: SessionSyncStep, payload: Uint8Array): void {
    const sync = this.#sync
    const epoch = sync.epoch()
    if (step === 'step1') {
      this.#answering++
      sync.local.diff(doc, payload).then(
        (diff) => {
          if (epoch !== sync.epoch()) return
          this.#answering--
          sync.reply(doc, diff)
          sync.replied()
        },
        () => {
          if (epoch !== sync.epoch()) return
          this.#answering--
          sync.replied()
        },
      )
      return
    }
    sync.local.applyRemote(doc, payload, sync.origin()).then((outcome) => {
      if (epoch !== sync.epoch()) return
      if (outcome === 'stored') sync.stored(doc, payload, step === 'update' ? 'live' : 'answer')
      if (step === 'step2') sync.answered(doc)
    })
  }
}
