import { chunkMeshFrame, decodeMeshMessage, encodeMeshMessage, isRhizomeError } from '@rhizome/protocol'
import { describe, expect, it } from 'vitest'
import { ChunkAssembler } from '../src/mesh/ChunkAssembler.js'

const big = { type: 'update', name: 'doc', update: new Uint8Array(2_500_000).fill(7), seq: 1 } as const

function chunksOf(m: Parameters<typeof encodeMeshMessage>[0]) {
  return chunkMeshFrame(encodeMeshMessage(m)).map((f) => decodeMeshMessage(f))
}

function malformed(fn: () => unknown): boolean {
  try {
    fn()
  } catch (err) {
    return isRhizomeError(err) && err.code === 'PROTOCOL_MALFORMED'
  }
  return false
}

describe('ChunkAssembler (mesh chunk reassembly)', () => {
  it('passes whole messages through and reassembles chunked ones in order', () => {
    const a = new ChunkAssembler()
    const ack = { type: 'ack', seq: 3 } as const
    expect(a.push(ack, true)).toBe(ack)
    const chunks = chunksOf(big)
    expect(chunks.length).toBe(3)
    expect(a.push(chunks[0]!, true)).toBeNull()
    expect(a.push(chunks[1]!, true)).toBeNull()
    const whole = a.push(chunks[2]!, true)
    expect(whole).toMatchObject({ type: 'update', name: 'doc', seq: 1 })
    expect(whole?.type === 'update' && whole.update.every((b) => b === 7)).toBe(true)
  })

  it('refuses a chunk from a peer that has not authenticated (nothing is buffered)', () => {
    expect(malformed(() => new ChunkAssembler().push(chunksOf(big)[0]!, false))).toBe(true)
  })

  it('refuses a message that interrupts a chunked one, and a nested chunk', () => {
    const a = new ChunkAssembler()
    a.push(chunksOf(big)[0]!, true)
    expect(malformed(() => a.push({ type: 'ack', seq: 1 }, true))).toBe(true)
    const nested = { type: 'chunk', last: true, bytes: encodeMeshMessage(chunksOf(big)[0]!) } as const
    expect(malformed(() => new ChunkAssembler().push(nested, true))).toBe(true)
  })

  it('starts over after clear()', () => {
    const a = new ChunkAssembler()
    a.push(chunksOf(big)[0]!, true)
    a.clear()
    const ack = { type: 'ack', seq: 1 } as const
    expect(a.push(ack, true)).toBe(ack)
  })
})
