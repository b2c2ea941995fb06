// The device of the device-refill scenario, in its own process so that its CPU time is the device's
// alone: a Rhizome replica of a namespace fills its local store from the relays, goes offline while
// the parent wipes and restarts every relay, then reconnects and refills them from its store.
//
// Usage: node refillDeviceProcess.mjs CONFIG.json; reads commands from stdin, one a line
// (`connect`, `finish`), and prints `DEVICE {"event":...}` lines:
//   filled (local store complete; its catalog written to cfg.catalogFile) -> offline
//   -> [connect] -> connecting -> [finish] -> done (bytes and CPU since `connect`).
// Config: { urls, prefix, count, storage, catalogFile, timeoutMs }.
import { readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { countingWebSocket } from './countingWebSocket.mjs'

// A file, not arguments, as in deviceProcess.mjs.
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const net = countingWebSocket()

function emit(event, data = {}) {
  process.stdout.write(`DEVICE ${JSON.stringify({ event, ...data })}\n`)
}

const commands = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
/** Resolves with the parent's next command line; throws when stdin ends first (parent gone). */
async function command(expected) {
  const { value, done } = await commands.next()
  if (done) throw new Error(`stdin closed while waiting for '${expected}'`)
  if (value.trim() !== expected) throw new Error(`expected '${expected}', got '${value}'`)
}

async function main() {
  const { openReplica } = await import('@rhizome/client')
  const replica = await openReplica({
    relays: cfg.urls,
    storage: cfg.storage,
    replicate: [`${cfg.prefix}**`],
    WebSocket: net.WebSocket,
  })
  try {
    await replica.whenReplicated({ timeout: cfg.timeoutMs })
    // The catalog the relays must end with: the device's own names and digests.
    const catalog = {}
    for await (const e of replica.store.catalog({ prefix: cfg.prefix })) catalog[e.name] = e.digest
    writeFileSync(cfg.catalogFile, JSON.stringify(catalog))
    emit('filled', { docs: Object.keys(catalog).length })

    await replica.disconnect()
    emit('offline')

    await command('connect')
    net.counts.in = 0
    net.counts.out = 0
    net.counts.sockets = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    replica.connect()
    emit('connecting')

    // The parent decides when the refill is complete (every relay's catalog equals the device's).
    await command('finish')
    const cpu = process.cpuUsage(cpu0)
    emit('done', {
      ms: performance.now() - t0,
      bytesIn: net.counts.in,
      bytesOut: net.counts.out,
      sockets: net.counts.sockets,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    })
  } finally {
    await replica.close()
  }
}

try {
  await main()
  process.exit(0)
} catch (err) {
  emit('error', { message: String(err?.stack ?? err) })
  process.exit(1)
}
