import * as Y from 'yjs'
import { clientId, deepChain, dependentUpdate, partialApplyUpdate } from './hostileUpdates.js'

/**
 * One socket's worth of hostile Yjs updates of a known shape, sent as SYNC updates in order.
 * `refuseAt` and `budgetAt` mark the update the relay must refuse whatever Yjs would do with it
 * (nesting past the limit: 4400; held bytes past the budget: 4413); everything else the oracle
 * ({@link predictShape}) learns by applying the updates to a copy of the document.
 */
export interface Shape {
  kind: string
  updates: Uint8Array[]
  refuseAt?: number
  budgetAt?: number
}

/** What the relay must do with a {@link Shape} sent on one socket that then sends a client ACK. */
export interface Prediction {
  /** 4400 (refused, or the final client ACK) or 4413 (held bytes past the budget). */
  close: 4400 | 4413
  /** n of the first update still waiting for missing structs when the socket closed: no ACK may reach it. */
  heldFrom: number | null
  /** The document afterwards: everything that integrated, nothing refused, nothing still held. */
  after: Uint8Array
}

/**
 * Seeded generator of the shapes of findings 2, 6 and 7: deep nesting (refused), deep but legal
 * nesting and the delete of its root (accepted), updates waiting for structs never sent (held, then
 * dropped), the same with their dependency (integrated), held bytes past the budget, updates Yjs
 * rejects halfway, and bit flips and truncations of valid updates built on the document's state.
 */
export class ShapeFactory {
  constructor(
    readonly random: () => number,
    readonly limits: { maxDepth: number; budget: number },
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n)
  }

  /** The next shape for a document currently in `state`. */
  next(state: Uint8Array): Shape {
    const { maxDepth, budget } = this.limits
    const kinds = [
      'too-deep',
      'too-deep-deleted',
      'deep-legal',
      'deep-legal-deleted',
      'pending',
      'pending-then-dependency',
      'pending-over-budget',
      'partial',
      'mutated',
      'mutated',
      'mutated',
    ] as const
    const kind = kinds[this.int(kinds.length)]!
    const client = clientId(this.random)
    switch (kind) {
      case 'too-deep':
        return { kind, updates: [deepChain(maxDepth + 1 + this.int(3500), { client }).update], refuseAt: 0 }
      case 'too-deep-deleted':
        // Finding 2 exactly: the chain and the delete of its root in one update.
        return {
          kind,
          updates: [deepChain(maxDepth + 1 + this.int(3500), { client, deleteRoot: true }).update],
          refuseAt: 0,
        }
      case 'deep-legal': {
        const legal = deepChain(2 + this.int(maxDepth - 60), { client, deleteRoot: this.random() < 0.5 })
        return { kind, updates: [legal.update] }
      }
      case 'deep-legal-deleted': {
        const legal = deepChain(2 + this.int(maxDepth - 60), { client })
        return { kind, updates: [legal.chain, legal.deletion] }
      }
      case 'pending':
        return { kind, updates: [dependentUpdate(this.random, 1 + this.int(4000)).update] }
      case 'pending-then-dependency': {
        const d = dependentUpdate(this.random, 1 + this.int(4000))
        return { kind, updates: this.random() < 0.5 ? [d.update, d.dependency] : [d.dependency, d.update] }
      }
      case 'pending-over-budget': {
        // Each update under half the budget, three of them past it.
        const size = Math.floor(budget * 0.45)
        const updates = [0, 1, 2].map(() => dependentUpdate(this.random, size).update)
        return { kind, updates, budgetAt: 2 }
      }
      case 'partial':
        return { kind, updates: [partialApplyUpdate(this.random, state)] }
      default:
        return { kind, updates: [this.mutated(state, client)] }
    }
  }

  /** A valid edit of the document by a new client, then bit flips, truncated or extended. */
  mutated(state: Uint8Array, client: number): Uint8Array {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, state)
    const sv = Y.encodeStateVector(doc)
    doc.clientID = client
    const t = doc.getText('legit')
    doc.transact(() => {
      for (let i = 0; i < 1 + this.int(4); i++) {
        const op = this.int(4)
        if (op === 0) t.insert(this.int(t.length + 1), `mutant ${this.int(1000)}`)
        else if (op === 1 && t.length > 0) t.delete(this.int(t.length), 1 + this.int(3))
        else if (op === 2) doc.getMap('mutant').set(`k${this.int(10)}`, { v: this.int(100) })
        else doc.getArray('mutant-a').push([this.int(100), 'x'])
      }
    })
    let u = Y.encodeStateAsUpdate(doc, sv)
    doc.destroy()
    const flips = this.int(4)
    for (let i = 0; i < flips; i++) {
      const at = this.int(u.length)
      u[at] = u[at]! ^ (1 << this.int(8))
    }
    const cut = this.int(5)
    if (cut === 0) u = u.slice(0, this.int(u.length + 1))
    else if (cut === 1)
      u = new Uint8Array([...u, ...Array.from({ length: 1 + this.int(8) }, () => this.int(256))])
    return u
  }
}

/**
 * The oracle: what the relay must do with `shape` on a document in `state`, found by applying its
 * updates to a gc:true copy the way Yjs would, with the relay's two limits marked in the shape.
 */
export function predictShape(state: Uint8Array, shape: Shape): Prediction {
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, state)
    let heldFrom: number | null = null
    for (let i = 0; i < shape.updates.length; i++) {
      const after = integratedState(doc)
      if (shape.refuseAt === i) return { close: 4400, heldFrom, after }
      if (shape.budgetAt === i) return { close: 4413, heldFrom, after }
      const update = shape.updates[i]!
      try {
        Y.decodeUpdate(update)
        Y.applyUpdate(doc, update)
      } catch {
        return { close: 4400, heldFrom, after }
      }
      const held = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
      if (!held) heldFrom = null
      else if (heldFrom === null) heldFrom = i + 1
    }
    return { close: 4400, heldFrom, after: integratedState(doc) }
  } finally {
    doc.destroy()
  }
}

/**
 * `doc` as one update without what waits in Yjs' pending stores: `Y.encodeStateAsUpdate` appends
 * pending structs and deletions, which a relay neither stores nor serves while it holds them.
 */
export function integratedState(doc: Y.Doc): Uint8Array {
  const { pendingStructs, pendingDs } = doc.store
  doc.store.pendingStructs = null
  doc.store.pendingDs = null
  try {
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.store.pendingStructs = pendingStructs
    doc.store.pendingDs = pendingDs
  }
}
