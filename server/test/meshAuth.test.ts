import { randomBytes } from 'node:crypto'
import {
  decodeMeshMessage,
  ErrorCode,
  encodeMeshMessage,
  isRhizomeError,
  MESH_PROTOCOL_VERSION,
} from '@rhizome/protocol'
import { describe, expect, it } from 'vitest'
import { prng, testSeed, withSeed } from '../../test/support/seed.mjs'
import { MeshSession } from '../src/mesh/MeshSession.js'
import {
  deriveLinkKeys,
  frameMac,
  MESH_MAC_BYTES,
  MESH_PROOF_BYTES,
  type MeshTranscript,
  meshProof,
  verifyFrameMac,
  verifyMeshProof,
} from '../src/mesh/meshAuth.js'

const SECRET = 'unit-mesh-secret-0123456789'

function transcript(over: Partial<{ dialer: string; acceptor: string }> = {}): MeshTranscript {
  return {
    version: MESH_PROTOCOL_VERSION,
    dialer: { relayId: 'relay-d', storeId: over.dialer ?? 'store-d', nonce: new Uint8Array(32).fill(1) },
    acceptor: { relayId: 'relay-a', storeId: over.acceptor ?? 'store-a', nonce: new Uint8Array(32).fill(2) },
  }
}

function expectAuthInvalid(fn: () => unknown): void {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  expect(isRhizomeError(caught, ErrorCode.AUTH_INVALID), String(caught)).toBe(true)
}

/** Both ends of one link. */
function link(t: MeshTranscript = transcript()) {
  return {
    dialer: new MeshSession(deriveLinkKeys(SECRET, t, 'dialer')),
    acceptor: new MeshSession(deriveLinkKeys(SECRET, t, 'acceptor')),
  }
}

const frame = (seq: number) => encodeMeshMessage({ type: 'ack', seq })

describe('mesh handshake proofs', () => {
  it('verifies a proof only for its own secret, direction and transcript', () => {
    const t = transcript()
    const proof = meshProof(SECRET, 'dialer->acceptor', t)
    expect(proof.length).toBe(MESH_PROOF_BYTES)
    expect(verifyMeshProof(SECRET, 'dialer->acceptor', t, proof)).toBe(true)
    // Reflected: the same proof presented for the other direction.
    expect(verifyMeshProof(SECRET, 'acceptor->dialer', t, proof)).toBe(false)
    expect(verifyMeshProof(`${SECRET}x`, 'dialer->acceptor', t, proof)).toBe(false)
    expect(verifyMeshProof(SECRET, 'dialer->acceptor', t, proof.subarray(0, 16))).toBe(false)
  })

  it('binds every field: relay ids, store ids, both nonces and the version', () => {
    const base = transcript()
    const proof = meshProof(SECRET, 'acceptor->dialer', base)
    const variants: MeshTranscript[] = [
      { ...base, version: base.version + 1 },
      { ...base, dialer: { ...base.dialer, relayId: 'relay-x' } },
      { ...base, dialer: { ...base.dialer, storeId: 'store-x' } },
      { ...base, dialer: { ...base.dialer, nonce: new Uint8Array(32).fill(3) } },
      { ...base, acceptor: { ...base.acceptor, relayId: 'relay-x' } },
      { ...base, acceptor: { ...base.acceptor, storeId: 'store-x' } },
      { ...base, acceptor: { ...base.acceptor, nonce: new Uint8Array(32).fill(3) } },
      // Swapped roles: what a reflector gets when it turns one side's handshake around.
      { ...base, dialer: base.acceptor, acceptor: base.dialer },
      // Field boundaries cannot be shifted: 'relay-d'+'store-d' vs 'relay-ds'+'tore-d'.
      { ...base, dialer: { ...base.dialer, relayId: 'relay-ds', storeId: 'tore-d' } },
    ]
    for (const t of variants) expect(verifyMeshProof(SECRET, 'acceptor->dialer', t, proof)).toBe(false)
  })

  it("a victim's acceptor proof never verifies for the victim's dialer, whatever store ids a reflector claims", () => {
    // The victim V dials a reflector that claims store X to V's acceptor and store Y to V's dialer.
    const nd = randomBytes(32)
    const na = randomBytes(32)
    const v = { relayId: 'victim', storeId: 'store-v' }
    for (const [x, y] of [
      ['store-x', 'store-x'],
      ['store-x', 'store-y'],
    ] as const) {
      const acceptorSide: MeshTranscript = {
        version: MESH_PROTOCOL_VERSION,
        dialer: { relayId: 'victim', storeId: x, nonce: nd },
        acceptor: { ...v, nonce: na },
      }
      const dialerSide: MeshTranscript = {
        version: MESH_PROTOCOL_VERSION,
        dialer: { ...v, nonce: nd },
        acceptor: { relayId: 'victim', storeId: y, nonce: na },
      }
      const proof = meshProof(SECRET, 'acceptor->dialer', acceptorSide)
      expect(verifyMeshProof(SECRET, 'acceptor->dialer', dialerSide, proof)).toBe(false)
      const dialerProof = meshProof(SECRET, 'dialer->acceptor', dialerSide)
      expect(verifyMeshProof(SECRET, 'dialer->acceptor', acceptorSide, dialerProof)).toBe(false)
    }
  })

  it('refuses to bind an empty secret, short nonces or a link between one store and itself', () => {
    const same = transcript({ dialer: 'store-s', acceptor: 'store-s' })
    expect(() => meshProof(SECRET, 'dialer->acceptor', same)).toThrow(TypeError)
    expect(() => deriveLinkKeys(SECRET, same, 'dialer')).toThrow(TypeError)
    expect(() => meshProof('', 'dialer->acceptor', transcript())).toThrow(TypeError)
    const short = transcript()
    short.dialer.nonce = new Uint8Array(8)
    expect(() => meshProof(SECRET, 'dialer->acceptor', short)).toThrow(TypeError)
    expect(verifyMeshProof(SECRET, 'dialer->acceptor', same, new Uint8Array(32))).toBe(false)
  })
})

describe('mesh link keys and frame MACs', () => {
  it("gives each direction its own key: one end's send key is the other's receive key", () => {
    const t = transcript()
    const d = deriveLinkKeys(SECRET, t, 'dialer')
    const a = deriveLinkKeys(SECRET, t, 'acceptor')
    expect(d.send).toEqual(a.receive)
    expect(d.receive).toEqual(a.send)
    expect(d.send).not.toEqual(d.receive)
    const other = deriveLinkKeys(
      SECRET,
      { ...t, acceptor: { ...t.acceptor, nonce: new Uint8Array(32) } },
      'dialer',
    )
    expect(other.send).not.toEqual(d.send)
  })

  it('covers the 64-bit sequence number and every byte of the frame', () => {
    const key = randomBytes(32)
    const f = frame(1)
    const mac = frameMac(key, 0, f)
    expect(mac.length).toBe(MESH_MAC_BYTES)
    expect(verifyFrameMac(key, 0, f, mac)).toBe(true)
    expect(verifyFrameMac(key, 1, f, mac)).toBe(false)
    expect(frameMac(key, 2 ** 32, f)).not.toEqual(mac)
    expect(verifyFrameMac(key, 0, frame(2), mac)).toBe(false)
    expect(() => frameMac(key, -1, f)).toThrow(TypeError)
    expect(() => frameMac(key, 0.5, f)).toThrow(TypeError)
  })
})

describe('MeshSession', () => {
  it('opens what the other end sealed, in order, in both directions', () => {
    const { dialer, acceptor } = link()
    for (let i = 0; i < 5; i++) {
      expect(acceptor.open(decodeMeshMessage(dialer.seal(frame(i))))).toEqual(frame(i))
      expect(dialer.open(decodeMeshMessage(acceptor.seal(frame(100 + i))))).toEqual(frame(100 + i))
    }
  })

  it('refuses a replayed, reordered, dropped, reflected, foreign or unsealed frame', () => {
    const replay = link()
    const once = decodeMeshMessage(replay.dialer.seal(frame(1)))
    replay.acceptor.open(once)
    expectAuthInvalid(() => replay.acceptor.open(once))

    const reorder = link()
    const [, second] = [reorder.dialer.seal(frame(1)), reorder.dialer.seal(frame(2))]
    expectAuthInvalid(() => reorder.acceptor.open(decodeMeshMessage(second)))

    const drop = link()
    drop.dialer.seal(frame(1))
    expectAuthInvalid(() => drop.acceptor.open(decodeMeshMessage(drop.dialer.seal(frame(2)))))

    // A frame sent back to the end that sealed it.
    const reflect = link()
    expectAuthInvalid(() => reflect.dialer.open(decodeMeshMessage(reflect.dialer.seal(frame(1)))))

    // A frame of another link between the same two relays (other nonces).
    const other = link({ ...transcript(), acceptor: { ...transcript().acceptor, nonce: new Uint8Array(32) } })
    const mine = link()
    expectAuthInvalid(() => mine.acceptor.open(decodeMeshMessage(other.dialer.seal(frame(1)))))

    expectAuthInvalid(() => link().acceptor.open({ type: 'ack', seq: 1 }))
  })

  it('refuses every single-bit change of a sealed frame (seeded)', async () => {
    const seed = testSeed()
    await withSeed('server/test/meshAuth.test.ts', seed, async () => {
      const random = prng(seed)
      for (let i = 0; i < 200; i++) {
        const { dialer, acceptor } = link()
        const body = randomBytes(1 + Math.floor(random() * 64))
        const sealed = decodeMeshMessage(dialer.seal(body))
        if (sealed.type !== 'sealed') throw new Error('expected a sealed frame')
        const part = random() < 0.5 ? 'mac' : 'body'
        const bytes = Uint8Array.from(sealed[part])
        bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8)
        expectAuthInvalid(() => acceptor.open({ ...sealed, [part]: bytes }))
      }
    })
  })
})
