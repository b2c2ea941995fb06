// One device in its own process, for the device-sync scenario: a Rhizome replica of a namespace
// (one session per relay), N stock y-websocket `WebsocketProvider`s (one socket per document), or N
// `HocuspocusProvider`s multiplexed over one `HocuspocusProviderWebsocket`. Its own process so that
// its RSS is the device's alone. Every client counts bytes with the same WebSocket wrapper.
//
// Usage: node --expose-gc deviceProcess.mjs CONFIG.json; prints `DEVICE {"event":...}` lines:
//   memory (baseline) -> start -> synced -> memory (full) -> written -> caughtUp -> done.
// The parent samples the servers' CPU when it reads `start` and `synced`.
// Config: { kind: 'rhizome'|'rhizome-empty'|'yws'|'hocuspocus', urls, names, changed, storage,
//   writerStorage, window, timeoutMs }.
import { readFileSync } from 'node:fs'
import * as Y from 'yjs'
import { countingWebSocket } from './countingWebSocket.mjs'

// A file, not an argument: 10,000 names exceed Linux's 128 KiB limit of one argument.
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const MARK = 'changed-while-offline:'
const net = countingWebSocket()
// Writers are other devices: their traffic is not the measured device's.
const other = countingWebSocket()
const deadline = (what) => {
  const until = performance.now() + cfg.timeoutMs
  return () => {
    if (performance.now() > until) throw new Error(`${cfg.kind}: ${what} not done in ${cfg.timeoutMs} ms`)
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function emit(event, data = {}) {
  process.stdout.write(`DEVICE ${JSON.stringify({ event, ...data })}\n`)
}

/** RSS after two full GCs and a pause, so that garbage does not count as the device's memory. */
async function settledMemory() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.()
    await sleep(100)
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed }
}

function bytes() {
  return { bytesIn: net.counts.in, bytesOut: net.counts.out, sockets: net.counts.sockets }
}

function resetBytes() {
  net.counts.in = 0
  net.counts.out = 0
  net.counts.sockets = 0
}

/** Polls `done()` every 20 ms until it is true or the phase's deadline passes. */
async function until(what, done) {
  const check = deadline(what)
  while (!(await done())) {
    check()
    await sleep(20)
  }
}

// `includes`, not `startsWith`: a stock server may answer a writer's sync before it loaded the
// stored state, and then the writer's insert at 0 is concurrent with the stored text.
const hasMark = (doc) => doc.getText('t').toString().includes(MARK)
// A stock provider's `synced` can precede the stored content (same race): a document counts as
// replicated once it holds content.
const filled = (doc) => doc.getText('t').length > 0

async function rhizome() {
  const { openReplica } = await import('@rhizome/client')
  const prefix = cfg.prefix
  if (cfg.kind === 'rhizome-empty') {
    // The same process and connections with a namespace that matches nothing: the baseline.
    const r = await openReplica({
      relays: cfg.urls,
      storage: cfg.storage,
      replicate: ['empty/**'],
      WebSocket: net.WebSocket,
    })
    await r.whenReplicated({ timeout: cfg.timeoutMs })
    emit('memory', { phase: 'empty', ...(await settledMemory()) })
    await r.close()
    return
  }
  emit('memory', { phase: 'baseline', ...(await settledMemory()) })
  emit('start')
  const t0 = performance.now()
  const replica = await openReplica({
    relays: cfg.urls,
    storage: cfg.storage,
    replicate: [`${prefix}**`],
    WebSocket: net.WebSocket,
  })
  await replica.whenReplicated({ timeout: cfg.timeoutMs })
  const firstMs = performance.now() - t0
  const docs = (await replica.names(prefix)).length
  emit('synced', { ms: firstMs, docs, ...bytes() })
  emit('memory', { phase: 'full', ...(await settledMemory()) })

  await replica.disconnect()
  // Another device edits while this one is offline; it waits until every relay holds the edits.
  const writer = await openReplica({ relays: cfg.urls, storage: cfg.writerStorage })
  for (const name of cfg.changed) {
    const h = await writer.open(name)
    await h.whenSynced({ timeout: cfg.timeoutMs })
    h.doc.getText('t').insert(0, MARK)
    await h.whenDurable(cfg.urls.length, { timeout: cfg.timeoutMs })
    await h.close()
  }
  await writer.close()
  emit('written')

  resetBytes()
  const t1 = performance.now()
  replica.connect()
  await replica.whenReplicated({ timeout: cfg.timeoutMs })
  const loadMarked = async () => {
    let n = 0
    for (const name of cfg.changed) {
      const doc = new Y.Doc()
      await replica.store.loadInto(name, doc)
      if (hasMark(doc)) n++
      doc.destroy()
    }
    return n
  }
  // whenReplicated promises the relay's state as of the call; poll in case a session was not yet
  // connected when it was called (the time keeps running, so a late arrival counts against us).
  await until('catch-up', async () => (await loadMarked()) === cfg.changed.length)
  const catchUpMs = performance.now() - t1
  const caught = bytes()
  const marked = await loadMarked()
  const docsAfter = (await replica.names(prefix)).length
  emit('caughtUp', {
    ms: catchUpMs,
    ...caught,
    marked,
    correct: marked === cfg.changed.length && docsAfter === docs,
  })
  await replica.close()
}

/** Opens `providers` with at most `window` of them connecting at once (a listen backlog is finite). */
async function connectWindowed(providers, connect, isSynced, what) {
  const check = deadline(what)
  let next = 0
  for (;;) {
    let pending = 0
    let synced = 0
    for (let i = 0; i < next; i++) {
      if (isSynced(providers[i])) synced++
      else pending++
    }
    if (synced === providers.length) return
    while (pending < cfg.window && next < providers.length) {
      connect(providers[next++])
      pending++
    }
    check()
    await sleep(20)
  }
}

async function yws() {
  const { WebsocketProvider } = await import('y-websocket')
  const url = cfg.urls[0]
  emit('memory', { phase: 'baseline', ...(await settledMemory()) })
  emit('start')
  const t0 = performance.now()
  const providers = cfg.names.map(
    (name) =>
      new WebsocketProvider(url, name, new Y.Doc(), {
        connect: false,
        disableBc: true,
        WebSocketPolyfill: net.WebSocket,
      }),
  )
  await connectWindowed(
    providers,
    (p) => p.connect(),
    (p) => p.synced && filled(p.doc),
    'first sync',
  )
  emit('synced', { ms: performance.now() - t0, docs: providers.length, ...bytes() })
  emit('memory', { phase: 'full', ...(await settledMemory()) })

  for (const p of providers) p.disconnect()
  await until('disconnect', () => providers.every((p) => !p.wsconnected && !p.wsconnecting))
  for (const name of cfg.changed)
    await writeThrough(
      () => {
        const doc = new Y.Doc()
        return {
          doc,
          p: new WebsocketProvider(url, name, doc, { disableBc: true, WebSocketPolyfill: other.WebSocket }),
        }
      },
      (p) => p.synced,
      (p) => p.destroy(),
    )
  emit('written')

  resetBytes()
  const t1 = performance.now()
  const byName = new Map(providers.map((p) => [p.roomname, p]))
  const changedProviders = cfg.changed.map((n) => byName.get(n))
  await connectWindowed(
    providers,
    (p) => p.connect(),
    (p) => p.synced,
    'reconnect',
  )
  await until('catch-up', () => changedProviders.every((p) => hasMark(p.doc)))
  const ms = performance.now() - t1
  emit('caughtUp', { ms, ...bytes(), correct: changedProviders.every((p) => hasMark(p.doc)) })
  for (const p of providers) p.destroy()
}

/**
 * Another device's edit, made while the measured device is offline: a fresh client syncs, edits,
 * and a second fresh client confirms the server holds the edit (stock clients get no ACK).
 */
async function writeThrough(open, isSynced, destroy) {
  const w = open()
  await until('writer sync', () => isSynced(w.p))
  w.doc.getText('t').insert(0, MARK)
  const c = open()
  await until('writer confirmed', () => isSynced(c.p) && hasMark(c.doc))
  destroy(c.p)
  destroy(w.p)
}

async function hocuspocus() {
  const { HocuspocusProvider, HocuspocusProviderWebsocket } = await import('@hocuspocus/provider')
  const url = cfg.urls[0]
  emit('memory', { phase: 'baseline', ...(await settledMemory()) })
  emit('start')
  const t0 = performance.now()
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: net.WebSocket })
  const providers = cfg.names.map((name) => {
    const p = new HocuspocusProvider({ websocketProvider: socket, name, document: new Y.Doc() })
    p.attach()
    return p
  })
  await until('first sync', () => providers.every((p) => p.synced && filled(p.document)))
  emit('synced', { ms: performance.now() - t0, docs: providers.length, ...bytes() })
  emit('memory', { phase: 'full', ...(await settledMemory()) })

  socket.disconnect()
  await until('disconnect', () => providers.every((p) => !p.synced))
  for (const name of cfg.changed)
    await writeThrough(
      () => {
        const doc = new Y.Doc()
        return {
          doc,
          p: new HocuspocusProvider({ url, name, document: doc, WebSocketPolyfill: other.WebSocket }),
        }
      },
      (p) => p.synced,
      (p) => p.destroy(),
    )
  emit('written')

  resetBytes()
  const t1 = performance.now()
  const changedProviders = providers.filter((p) => cfg.changed.includes(p.configuration.name))
  await socket.connect()
  await until(
    'catch-up',
    () => providers.every((p) => p.synced) && changedProviders.every((p) => hasMark(p.document)),
  )
  emit('caughtUp', {
    ms: performance.now() - t1,
    ...bytes(),
    correct: changedProviders.every((p) => hasMark(p.document)),
  })
  for (const p of providers) p.destroy()
  socket.destroy()
}

const run = { rhizome, 'rhizome-empty': rhizome, yws, hocuspocus }[cfg.kind]
try {
  await run()
  emit('done')
  process.exit(0)
} catch (err) {
  emit('error', { message: String(err?.stack ?? err) })
  process.exit(1)
}
