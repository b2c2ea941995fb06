import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeSessionMessage, encodeSessionMessage } from '@rhizome/protocol'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import WebSocket from 'ws'
import * as Y from 'yjs'

const name = (i) => `bulk/${String(i).padStart(5, '0')}`
async function fill(n) {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-measure-'))
  const store = await DocStore.open(new ClassicLevel(dir, { valueEncoding: 'view' }))
  const pending = []
  for (let i = 0; i < n; i++) {
    const d = new Y.Doc(); d.getText('t').insert(0, `document ${i} `.repeat(8))
    pending.push(store.append(name(i), Y.encodeStateAsUpdate(d)))
    if (pending.length >= 500) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending); await store.close(); return dir
}
function startRelay(dir) {
  const child = spawn(process.execPath, ['dist/cli.js', '--port', '0', '--data', dir], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RHIZOME_LOG_LEVEL: 'warn' } })
  return new Promise((resolve) => child.stdout.on('data', (s) => { const m = /ws:\/\/([\d.]+):(\d+)/.exec(String(s)); if (m) resolve({ child, url: `ws://127.0.0.1:${m[2]}` }) }))
}
function session(url, checkpoint) {
  const ws = new WebSocket(`${url}/_session`); ws.binaryType = 'nodebuffer'
  const s = { ws, bytes: 0, msgs: [], waiters: [] }
  ws.on('message', (d) => { s.bytes += d.length; const m = decodeSessionMessage(new Uint8Array(d)); s.msgs.push(m); for (const w of s.waiters.splice(0)) w() })
  s.until = async (pred) => { while (!s.msgs.some(pred)) await new Promise((r) => s.waiters.push(r)) ; return s.msgs.find(pred) }
  s.send = (m) => ws.send(encodeSessionMessage(m))
  s.open = new Promise((r) => ws.once('open', r)).then(() => s.send({ type: 'hello', version: 1, checkpoint, patterns: ['bulk/**'] }))
  return s
}
for (const n of [1000, 10000]) {
  const dir = await fill(n)
  const { child, url } = await startRelay(dir)
  const first = session(url, null); await first.open
  const welcome = await first.until((m) => m.type === 'welcome')
  await first.until((m) => m.type === 'changes' && m.last)
  const fullBytes = first.bytes
  first.ws.close()
  const writer = session(url, null); await writer.open; await writer.until((m) => m.type === 'changes' && m.last)
  for (let k = 0; k < 10; k++) {
    const i = Math.floor((k * n) / 10) + 3
    const d = new Y.Doc(); d.getText('t').insert(0, ' change')
    writer.send({ type: 'sync', doc: name(i), step: 'update', payload: Y.encodeStateAsUpdate(d) })
  }
  await writer.until((m) => m.type === 'ack' && writer.msgs.filter((x) => x.type === 'ack').length >= 10)
  while (writer.msgs.filter((x) => x.type === 'ack').length < 10) await writer.until(() => false).catch(() => {})
  writer.ws.close()
  const again = session(url, { storeId: welcome.storeId, seq: welcome.seq }); await again.open
  const w2 = await again.until((m) => m.type === 'welcome')
  const last = await again.until((m) => m.type === 'changes' && m.last)
  const listingBytes = again.bytes
  const entries = again.msgs.filter((m) => m.type === 'changes').flatMap((m) => m.entries)
  // The device then syncs each listed document: step1 -> step2 + step1.
  for (const e of entries) again.send({ type: 'sync', doc: e.doc, step: 'step1', payload: new Uint8Array([0]) })
  await again.until(() => again.msgs.filter((m) => m.type === 'sync' && m.step === 'step1').length >= entries.length)
  console.log(`replica ${n}: full listing ${fullBytes} B; resumed=${w2.resumed} listing ${entries.length} entries ${listingBytes} B; with the 10 sync answers ${again.bytes} B`)
  again.ws.close(); child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); await rm(dir, { recursive: true, force: true })
}
