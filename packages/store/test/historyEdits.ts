/**
 * Random edits over every kind of shared type (text with formatting, maps, arrays, XML, nested
 * types), by several clients, and the exact content of a document for comparisons.
 */
import * as Y from 'yjs'
import { withoutFormattingCleanup } from '../src/formattingCleanup.js'

type Rnd = () => number

const pick = (rnd: Rnd, n: number) => Math.floor(rnd() * n)
const word = (rnd: Rnd) => String.fromCharCode(97 + pick(rnd, 26)).repeat(1 + pick(rnd, 3))

/** A plain value with object keys sorted: the order of keys (map entries, attributes) is not content. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) out[key] = sorted((value as Record<string, unknown>)[key])
  return out
}

/** Content of a nested value, for any shared type. */
function contentOfValue(value: unknown): unknown {
  if (value instanceof Y.XmlElement || value instanceof Y.XmlFragment || value instanceof Y.XmlText)
    return { xml: value.toString() }
  if (value instanceof Y.Text) return { text: sorted(value.toDelta()) }
  if (value instanceof Y.Map) {
    const out: Record<string, unknown> = {}
    for (const key of [...value.keys()].sort()) out[key] = contentOfValue(value.get(key))
    return { map: out }
  }
  if (value instanceof Y.Array) return { array: value.toArray().map(contentOfValue) }
  return sorted(value)
}

/**
 * The exact content of the roots the edits below use, as a string: text with its formatting,
 * maps, arrays and nested types by their values, XML by its serialisation.
 */
export function contentOfDoc(doc: Y.Doc): string {
  return JSON.stringify({
    t: contentOfValue(doc.getText('t')),
    m: contentOfValue(doc.getMap('m')),
    a: contentOfValue(doc.getArray('a')),
    x: contentOfValue(doc.getXmlFragment('x')),
  })
}

/**
 * A Y.Doc that holds exactly what it receives, as the store's documents do: without the cleanup of
 * Y.Text formatting Yjs otherwise runs after each received update (a local change of that replica
 * that can change the formatting it shows). Ground truths are built on these.
 */
export function receiverDoc(): Y.Doc {
  return withoutFormattingCleanup(new Y.Doc())
}

/** {@link contentOfDoc} of the state an update describes. */
export function contentOfUpdate(update: Uint8Array): string {
  const doc = receiverDoc()
  Y.applyUpdate(doc, update)
  const out = contentOfDoc(doc)
  doc.destroy()
  return out
}

function editText(text: Y.Text, rnd: Rnd): void {
  const r = rnd()
  if (text.length > 2 && r < 0.3) {
    const at = pick(rnd, text.length - 1)
    text.delete(at, Math.min(1 + pick(rnd, 3), text.length - at))
  } else if (text.length > 2 && r < 0.4)
    text.format(pick(rnd, text.length - 1), 2, { bold: rnd() < 0.7 ? true : null })
  else text.insert(pick(rnd, text.length + 1), word(rnd), rnd() < 0.2 ? { italic: true } : undefined)
}

function editMap(map: Y.Map<unknown>, rnd: Rnd, depth: number): void {
  const key = `k${pick(rnd, 5)}`
  const current = map.get(key)
  const r = rnd()
  if (r < 0.2) map.delete(key)
  else if (r < 0.45 && depth < 2 && current instanceof Y.Map) editMap(current, rnd, depth + 1)
  else if (r < 0.55 && depth < 2 && current instanceof Y.Array) editArray(current, rnd, depth + 1)
  else if (r < 0.6 && current instanceof Y.Text) editText(current, rnd)
  else if (r < 0.75 && depth < 2) {
    const nested = new Y.Map<unknown>()
    nested.set('v', pick(rnd, 100))
    map.set(key, nested)
  } else if (r < 0.8 && depth < 2) map.set(key, Y.Array.from([pick(rnd, 10)]))
  else if (r < 0.85) map.set(key, new Y.Text(word(rnd)))
  else map.set(key, rnd() < 0.5 ? pick(rnd, 1000) : { json: [word(rnd)] })
}

function editArray(array: Y.Array<unknown>, rnd: Rnd, depth: number): void {
  const r = rnd()
  if (array.length > 0 && r < 0.3) {
    const at = pick(rnd, array.length)
    array.delete(at, Math.min(1 + pick(rnd, 2), array.length - at))
  } else if (array.length > 0 && r < 0.45 && depth < 2) {
    const item = array.get(pick(rnd, array.length))
    if (item instanceof Y.Map) editMap(item, rnd, depth + 1)
    else array.insert(0, [word(rnd)])
  } else if (r < 0.55 && depth < 2) {
    const nested = new Y.Map<unknown>()
    nested.set('n', word(rnd))
    array.insert(pick(rnd, array.length + 1), [nested])
  } else array.insert(pick(rnd, array.length + 1), [pick(rnd, 100), word(rnd)].slice(0, 1 + pick(rnd, 2)))
}

function editXml(parent: Y.XmlFragment | Y.XmlElement, rnd: Rnd, depth: number): void {
  const r = rnd()
  const children = parent.toArray()
  if (children.length > 0 && r < 0.2) parent.delete(pick(rnd, children.length), 1)
  else if (children.length > 0 && r < 0.6) {
    const child = children[pick(rnd, children.length)]!
    if (child instanceof Y.XmlElement) {
      const s = rnd()
      if (s < 0.3) child.setAttribute(`a${pick(rnd, 3)}`, word(rnd))
      else if (s < 0.4) child.removeAttribute(`a${pick(rnd, 3)}`)
      else if (depth < 2) editXml(child, rnd, depth + 1)
      else child.insert(0, [new Y.XmlText(word(rnd))])
    } else if (child instanceof Y.XmlText) editText(child, rnd)
  } else if (r < 0.8) {
    const element = new Y.XmlElement(rnd() < 0.5 ? 'p' : 'li')
    element.setAttribute('id', word(rnd))
    element.insert(0, [new Y.XmlText(word(rnd))])
    parent.insert(pick(rnd, children.length + 1), [element])
  } else parent.insert(pick(rnd, children.length + 1), [new Y.XmlText(word(rnd))])
}

/** One random edit of `doc` (one transaction) on one of its roots, nested types included. */
export function randomEdit(doc: Y.Doc, rnd: Rnd): void {
  const r = rnd()
  doc.transact(() => {
    if (r < 0.3) editText(doc.getText('t'), rnd)
    else if (r < 0.55) editMap(doc.getMap('m'), rnd, 0)
    else if (r < 0.8) editArray(doc.getArray('a'), rnd, 0)
    else editXml(doc.getXmlFragment('x'), rnd, 0)
  })
}

/** Several clients editing one document; every update they make is reported in order of making. */
export class RandomEditors {
  readonly docs: Y.Doc[]
  readonly #rnd: Rnd

  /** `count` clients with client ids `base + 1 ...`. */
  constructor(count: number, rnd: Rnd, base = 0) {
    this.#rnd = rnd
    this.docs = Array.from({ length: count }, (_, i) => {
      const doc = new Y.Doc()
      doc.clientID = base + i + 1
      return doc
    })
  }

  /**
   * One random edit by a random client; the update is then delivered to each other client with
   * probability `share` (so clients edit concurrently, from states that differ). Returns the update.
   */
  edit(share = 0.5): Uint8Array {
    const doc = this.docs[pick(this.#rnd, this.docs.length)]!
    const before = Y.encodeStateVector(doc)
    randomEdit(doc, this.#rnd)
    const update = Y.encodeStateAsUpdate(doc, before)
    for (const other of this.docs) if (other !== doc && this.#rnd() < share) Y.applyUpdate(other, update)
    return update
  }

  /** Destroys the clients' documents. */
  destroy(): void {
    for (const doc of this.docs) doc.destroy()
  }
}
