import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

/**
 * Yjs updates that decode but that a relay must not apply naively: deep nesting, deletions of deep
 * roots, updates that depend on structs never sent, updates Yjs rejects halfway. Each is built the
 * way an attacker with write access would, independently of the relay's code.
 */

/** A fresh client id in a range no test document uses otherwise. */
export function clientId(random: () => number): number {
  return 1_000_000 + Math.floor(random() * 2 ** 30)
}

/** A delete-set-only update (no structs) deleting `len` clocks of `client` from `clock`. */
export function deletionOf(client: number, clock: number, len = 1): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0) // no structs
  encoding.writeVarUint(e, 1) // one client in the delete set
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, 1) // one range
  encoding.writeVarUint(e, clock)
  encoding.writeVarUint(e, len)
  return encoding.toUint8Array(e)
}

/**
 * A chain of `depth` nested Y.Maps under root map `root`, built on a gc:false document, and
 * optionally the deletion of its outermost map merged into the same update: the shape of finding 2
 * (2,500 levels and the delete are about 30 KB).
 */
export function deepChain(
  depth: number,
  options: { client?: number; root?: string; deleteRoot?: boolean } = {},
): { update: Uint8Array; chain: Uint8Array; deletion: Uint8Array } {
  const doc = new Y.Doc({ gc: false })
  if (options.client !== undefined) doc.clientID = options.client
  const root = doc.getMap(options.root ?? 'deep')
  doc.transact(() => {
    let at = new Y.Map()
    root.set('chain', at)
    for (let i = 1; i < depth; i++) {
      const next = new Y.Map()
      at.set('c', next)
      at = next
    }
    at.set('leaf', 'bottom')
  })
  const chain = Y.encodeStateAsUpdate(doc)
  // Deleting through the API would recurse on the sender's stack too: write the delete set directly.
  const outer = (root as unknown as { _map: Map<string, Y.Item> })._map.get('chain')!
  const deletion = deletionOf(outer.id.client, outer.id.clock)
  doc.destroy()
  return { update: options.deleteRoot ? Y.mergeUpdates([chain, deletion]) : chain, chain, deletion }
}

/**
 * An update of `bytes` of text whose first item's origin is a struct of a client the relay never
 * received: Yjs cannot integrate any of it. `dependency` is that missing update.
 */
export function dependentUpdate(
  random: () => number,
  bytes: number,
  root = 'pending',
): { update: Uint8Array; dependency: Uint8Array } {
  const base = new Y.Doc()
  base.clientID = clientId(random)
  base.getText(root).insert(0, 'x')
  const dependency = Y.encodeStateAsUpdate(base)
  const doc = new Y.Doc()
  doc.clientID = clientId(random)
  Y.applyUpdate(doc, dependency)
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let chunk = ''
  for (let i = 0; i < Math.min(bytes, 256); i++) chunk += chars[Math.floor(random() * chars.length)]
  doc.getText(root).insert(1, chunk.repeat(Math.ceil(bytes / chunk.length)).slice(0, bytes))
  const update = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(base))
  base.destroy()
  doc.destroy()
  return { update, dependency }
}

/**
 * An update that decodes but that Yjs rejects halfway on a copy of `state`: it throws, after
 * integrating a prefix (a `update` event fired). Found by seeded bit flips and truncations of a
 * valid update from a fresh client (finding 7).
 */
export function partialApplyUpdate(
  random: () => number,
  state: Uint8Array = new Uint8Array([0, 0]),
): Uint8Array {
  for (let attempt = 0; attempt < 200_000; attempt++) {
    const src = new Y.Doc()
    src.clientID = clientId(random)
    src.getText('t').insert(0, `partial ${attempt} `.repeat(1 + Math.floor(random() * 4)))
    src.getMap('m').set('k', attempt)
    src.getArray('a').push([1, 'two', attempt])
    src.getText('t').delete(1, 2)
    const valid = Y.encodeStateAsUpdate(src)
    src.destroy()
    const u = valid.slice()
    const flips = 1 + Math.floor(random() * 3)
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(random() * u.length)
      u[at] = u[at]! ^ (1 << Math.floor(random() * 8))
    }
    const candidate = random() < 0.2 ? u.slice(0, Math.max(1, Math.floor(random() * u.length))) : u
    if (verdictOn(state, candidate) === 'partial') return candidate
  }
  throw new Error('no partial-apply update found')
}

/** What Yjs does with `update` on a gc:true copy of `state`. */
export function verdictOn(
  state: Uint8Array,
  update: Uint8Array,
): 'decode' | 'partial' | 'throws' | 'pending' | 'ok' {
  try {
    Y.decodeUpdate(update)
  } catch {
    return 'decode'
  }
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, state)
    let emitted = false
    doc.on('update', () => {
      emitted = true
    })
    try {
      Y.applyUpdate(doc, update)
    } catch {
      return emitted ? 'partial' : 'throws'
    }
    return doc.store.pendingStructs !== null || doc.store.pendingDs !== null ? 'pending' : 'ok'
  } finally {
    doc.destroy()
  }
}
