import { randomBytes } from 'node:crypto'
import { decodeMeshMessage, encodeMeshMessage } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { eventually } from '../../test/support/poll.mjs'
import { freePort } from '../../test/support/ports.js'
import { health, RawClient } from '../../test/support/rawClient.js'
import { type RelayProcess, startRelay, stopAllRelays } from '../../test/support/relays.js'
import { MeshReflector } from './support/MeshReflector.js'
import { startTcpPipe, type TcpPipe } from './support/tcpPipe.js'

const MESH_SECRET = 'reflection-mesh-secret-0123456789'
const SECRET_TEXT = 'victim-only-text-5b1e'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()))
  await stopAllRelays()
})

async function writeText(relay: RelayProcess, name: string, text: string): Promise<void> {
  const client = await RawClient.connect(relay.url, name)
  client.doc.getText('t').insert(0, text)
  await client.waitForCopies(1)
  client.close()
}

/** Polls `/healthz` until `done()`; fails as soon as any peer shows as connected. */
async function neverConnectedUntil(relay: RelayProcess, done: () => boolean, what: string): Promise<void> {
  let connected: string[] = []
  await eventually(
    async () => {
      connected = (await health(relay.httpUrl)).peers.filter((p) => p.connected).map((p) => p.url)
      return connected.length > 0 || done()
    },
    { timeout: 45_000, interval: 25, what },
  )
  expect(connected, 'peers shown as connected').toEqual([])
}

/** Log lines that contain every one of `parts`. */
function countLines(log: string[], ...parts: string[]): number {
  return log
    .join('')
    .split('\n')
    .filter((line) => parts.every((p) => line.includes(p))).length
}

describe('mesh handshake reflection', () => {
  // Red-team finding 1: whoever answers at a --peers URL could relay the victim's own proofs back
  // to it; the link opened and the attacker read and wrote every document.
  it('a peer URL that reflects the handshake back to the relay never opens a link nor gets a document', async () => {
    const reflector = await MeshReflector.listen('secret/doc')
    cleanups.push(() => reflector.close())
    const victim = await startRelay({ peers: [reflector.url], args: ['--mesh-secret', MESH_SECRET] })
    reflector.victimUrl = victim.url
    await writeText(victim, 'secret/doc', SECRET_TEXT)

    // Each strategy gets a full dial: the fourth dial starts only after the third one ended.
    await neverConnectedUntil(victim, () => reflector.attempts.length >= 4, 'four reflected dials')
    const tried = reflector.attempts.slice(0, 3)
    expect(tried.map((a) => a.strategy)).toEqual(['forward', 'rewrite-store', 'fresh-nonce'])
    for (const attempt of tried) {
      expect(attempt.relayed[0], attempt.strategy).toBe('d>hello')
      // The victim never says anything past the handshake to the attacker...
      expect(attempt.afterHandshake, attempt.strategy).toEqual([])
      // ...and nothing of the document is in any byte it sent.
      const sent = Buffer.concat(attempt.bytes).toString('latin1')
      expect(sent, attempt.strategy).not.toContain(SECRET_TEXT)
      expect(sent, attempt.strategy).not.toContain('secret/doc')
    }
    // With a fresh nonce the victim's acceptor does answer (it cannot tell yet), but its proof is
    // bound to the claimed store ids and direction, so the victim's dialer refuses it.
    expect(tried[2]!.relayed).toEqual(['d>hello', 'a>challenge'])
    expect(victim.log.join('')).toMatch(/leads back to this relay|failed the mesh secret challenge/)
  })
})

describe('mesh protocol versions', () => {
  it('refuses a hello of mesh protocol 1 (unbound proofs, unsealed frames) before any proof', async () => {
    const relay = await startRelay({ args: ['--mesh-secret', MESH_SECRET] })
    const ws = new WebSocket(`${relay.url}/_mesh`)
    const received: string[] = []
    ws.on('message', (data: Buffer) => received.push(decodeMeshMessage(new Uint8Array(data)).type))
    ws.on('open', () =>
      ws.send(
        encodeMeshMessage({
          type: 'hello',
          version: 1,
          relayId: 'old-relay',
          storeId: 'old-store',
          nonce: randomBytes(32),
        }),
      ),
    )
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)))
    expect(code).toBe(4400)
    expect(received).toEqual([])
  })
})

describe('a peer URL that leads back to the relay itself', () => {
  it('is never a connected peer, directly or through a TCP pipe; one log line per dial, retried with backoff', async () => {
    const port = await freePort()
    const pipe: TcpPipe = await startTcpPipe(port)
    cleanups.push(() => pipe.close())
    const self = `ws://127.0.0.1:${port}`
    const relay = await startRelay({
      peers: [self, pipe.url],
      args: ['--port', String(port), '--mesh-secret', MESH_SECRET],
    })
    expect(relay.port).toBe(port)

    await neverConnectedUntil(
      relay,
      () => pipe.connections >= 3 && countLines(relay.log, 'leads back to this relay', `"${self}"`) >= 3,
      'three dials of each URL',
    )
    // One line per dial, not a flood: at most one for each connection the pipe saw.
    const pipeLines = countLines(relay.log, 'leads back to this relay', `"${pipe.url}"`)
    expect(pipeLines).toBeGreaterThanOrEqual(2)
    expect(pipeLines).toBeLessThanOrEqual(pipe.connections)
    // Only the dialer side speaks: the looped-back hello is refused quietly on the accepting side.
    expect(relay.log.join('')).not.toMatch(/claims this relay's own store/)

    // Harmless: clients are served as before.
    await writeText(relay, 'self/doc', 'still serving')
    const peers = (await health(relay.httpUrl)).peers
    expect(peers.map((p) => [p.url, p.connected])).toEqual([
      [self, false],
      [pipe.url, false],
    ])
  })
})

describe('a relay without a mesh secret', () => {
  // Dialing without one is a usage error (`--peers` needs `--mesh-secret`: options.test.ts).
  it('refuses mesh links as acceptor; a peer with a secret never connects to it', async () => {
    const a = await startRelay({ meshSecret: null })
    const dialsWith = await startRelay({ peers: [a.url], args: ['--mesh-secret', MESH_SECRET] })
    await writeText(a, 'unshared/doc', SECRET_TEXT)
    await neverConnectedUntil(
      dialsWith,
      () => countLines(a.log, 'this relay has no --mesh-secret') >= 2,
      'refusals by the acceptor',
    )
    expect((await health(dialsWith.httpUrl)).docs).toBe(0)
  })
})
