// A chaos-suite device: the client SDK in its own process, so the nemesis can kill -9 it.
// argv[2] is JSON { name, storage, relays, docs, open, replicate, backoff? }: it replicates the
// `replicate` patterns (a whole replica, docs/PROTOCOL.md section 7.1), opens only the `open`
// documents (the only ones it edits) and reports on every name in `docs`, open or not (a document
// that is not open is read from the local store). `backoff` null: the client's default schedule.
// Commands arrive on stdin as JSON lines:
//   {"id":1,"cmd":"edit","doc":"d03","token":"d1.17","op":{...}}
//   {"id":2,"cmd":"report"}   -> {"type":"report","id":2,"docs":{"d03":{"digest","content"}}}
//   {"id":3,"cmd":"close"}    -> {"type":"closed","id":3}, then the process exits 0
// For every edit it reports, on stdout as JSON lines: what the edit inserted and deleted (Yjs ids),
// when it was durable in the local store ("local"), and each relay copy count ACK reported ("ack");
// and every change of its sessions' states, one per relay ("status").
import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'
import { openReplica } from '@rhizome/client'
import { digestOfDoc } from '@rhizome/protocol'
import * as Y from 'yjs'

const config = JSON.parse(process.argv[2])
const out = (message) => process.stdout.write(`${JSON.stringify(message)}\n`)

const replica = await openReplica({
  relays: config.relays,
  storage: config.storage,
  replicate: config.replicate,
  ...(config.backoff === null ? {} : { backoff: config.backoff ?? { initialMs: 100, maxMs: 1500 } }),
})
// Session states per relay, on every change: the timeline shows when each device reconnected.
let lastStates = ''
replica.on('status', (s) => {
  const states = s.relays
    .map((r) =>
      [
        r.state,
        r.closeCode,
        r.error?.code,
        r.error?.code === 'RELAY_UNAVAILABLE' ? undefined : r.error?.message,
      ]
        .filter((x) => x !== undefined && x !== null)
        .join(':'),
    )
    .join(',')
  if (states === lastStates) return
  lastStates = states
  out({ type: 'status', states })
})
const handles = new Map()
for (const name of config.open) handles.set(name, await replica.open(name))
out({ type: 'ready', pid: process.pid })

/** Applies one edit in one transaction that also records its token in the `ledger` map. */
function applyEdit(doc, token, op) {
  const text = doc.getText('t')
  const map = doc.getMap('m')
  const array = doc.getArray('a')
  const ledger = doc.getMap('ledger')
  let deleteSet = null
  const onAfter = (tr) => {
    deleteSet = tr.deleteSet
  }
  const client = doc.clientID
  const before = Y.getState(doc.store, client)
  doc.on('afterTransaction', onAfter)
  try {
    doc.transact(() => {
      switch (op.kind) {
        case 'text-insert':
          text.insert(Math.floor(op.at * (text.length + 1)), op.text)
          break
        case 'text-delete': {
          const len = Math.min(op.len, text.length)
          if (len > 0) text.delete(Math.floor(op.at * (text.length - len + 1)), len)
          break
        }
        case 'map-set':
          map.set(op.key, op.value)
          break
        case 'array-push':
          array.push([op.value])
          break
        case 'array-delete':
          if (array.length > 0) array.delete(Math.floor(op.at * array.length), 1)
          break
        default:
          throw new Error(`unknown op ${op.kind}`)
      }
      ledger.set(token, config.name)
    })
  } finally {
    doc.off('afterTransaction', onAfter)
  }
  const after = Y.getState(doc.store, client)
  const del = []
  for (const [c, items] of deleteSet?.clients ?? []) for (const d of items) del.push([c, d.clock, d.len])
  return { ins: after > before ? [client, before, after] : null, del }
}

function sortedJson(value) {
  if (Array.isArray(value)) return value.map(sortedJson)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedJson(value[k])]),
    )
  }
  return value
}

/** Everything the checker compares: the replica digest and a hash of the visible content. */
function summarize(doc) {
  const content = JSON.stringify(
    sortedJson({
      t: doc.getText('t').toString(),
      m: doc.getMap('m').toJSON(),
      a: doc.getArray('a').toJSON(),
      ledger: doc.getMap('ledger').toJSON(),
    }),
  )
  return { digest: digestOfDoc(doc), content: createHash('sha256').update(content).digest('hex') }
}

/** Summary of a document that is not open, from the local store (null when the store lacks it). */
async function summarizeStored(name) {
  const update = await replica.store.getUpdate(name)
  if (update === null) return null
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const summary = summarize(doc)
  doc.destroy()
  return summary
}

/** What the checker compares, for every reported name: open ones from memory, others from the store. */
async function report() {
  const docs = {}
  for (const name of config.docs) {
    const handle = handles.get(name)
    const summary = handle ? summarize(handle.doc) : await summarizeStored(name)
    if (summary !== null) docs[name] = summary
  }
  return docs
}

function onEdit({ doc: name, token, op }) {
  const handle = handles.get(name)
  if (!handle) throw new Error(`${config.name} edits only the documents it opened, not ${name}`)
  const ids = applyEdit(handle.doc, token, op)
  out({ type: 'edit', token, doc: name, ...ids })
  // whenDurable captures the local state now; each k resolves once k relay stores hold it.
  handle.whenDurable(0).then(
    () => out({ type: 'local', token }),
    () => {},
  )
  for (let k = 1; k <= config.relays.length; k++) {
    handle.whenDurable(k).then(
      () => out({ type: 'ack', token, copies: k }),
      () => {},
    )
  }
}

let closing = false
const lines = createInterface({ input: process.stdin })
// Without a parent (stdin closed) the device shuts down cleanly instead of lingering.
lines.on('close', () => {
  process.stdin.destroy()
  if (!closing) {
    closing = true
    void replica.close()
  }
})
lines.on('line', (line) => {
  if (line.trim() === '') return
  const command = JSON.parse(line)
  try {
    if (command.cmd === 'edit') {
      if (!closing) onEdit(command)
    } else if (command.cmd === 'report') {
      report().then(
        (docs) => out({ type: 'report', id: command.id, docs }),
        (err) => out({ type: 'error', id: command.id, message: String(err?.stack ?? err) }),
      )
    } else if (command.cmd === 'close') {
      closing = true
      replica.close().then(() => {
        out({ type: 'closed', id: command.id })
        lines.close()
      })
    } else {
      throw new Error(`unknown command ${command.cmd}`)
    }
  } catch (err) {
    out({ type: 'error', id: command.id, message: String(err?.stack ?? err) })
  }
})
