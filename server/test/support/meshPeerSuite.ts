import { afterAll, afterEach, beforeAll } from 'vitest'
import { type RelayProcess, startRelay, stopAllRelays } from '../../../test/support/relays.js'
import { MeshTestPeer } from './MeshTestPeer.js'

/** A relay for a test file, and test peers on its mesh endpoint that each test gets fresh. */
export interface MeshPeerSuite {
  /** The relay (started before the file's tests, stopped after them). */
  relay(): RelayProcess
  /** A new peer that completed the handshake; closed after the test. */
  peer(): Promise<MeshTestPeer>
}

/**
 * Registers the hooks of a test file whose tests talk to one relay as mesh peers: the relay starts
 * once with `secret` as its mesh secret, every peer a test opens is closed after it.
 */
export function meshPeerSuite(secret: string): MeshPeerSuite {
  let relay: RelayProcess | null = null
  const peers: MeshTestPeer[] = []
  beforeAll(async () => {
    relay = await startRelay({ args: ['--mesh-secret', secret] })
  })
  afterEach(() => {
    for (const p of peers.splice(0)) p.close()
  })
  afterAll(stopAllRelays)
  const started = (): RelayProcess => {
    if (relay === null) throw new Error('the relay is not started yet')
    return relay
  }
  return {
    relay: started,
    async peer() {
      const p = await MeshTestPeer.connect(started().url, secret)
      peers.push(p)
      return p
    },
  }
}
