import { describe, expect, it } from 'vitest'
import { corkUntilTick } from '../src/index.js'

function fakeSocket() {
  const log: string[] = []
  const socket = {
    destroyed: false,
    cork: () => log.push('cork'),
    uncork: () => log.push('uncork'),
  }
  return { ws: { _socket: socket }, socket, log }
}

describe('corkUntilTick', () => {
  it('corks the TCP socket once per turn and uncorks it at the end of the turn', async () => {
    const { ws, log } = fakeSocket()
    corkUntilTick(ws)
    log.push('send 1')
    corkUntilTick(ws)
    log.push('send 2')
    expect(log).toEqual(['cork', 'send 1', 'send 2'])
    await new Promise((resolve) => process.nextTick(resolve))
    expect(log).toEqual(['cork', 'send 1', 'send 2', 'uncork'])
    corkUntilTick(ws)
    await new Promise((resolve) => process.nextTick(resolve))
    expect(log.slice(4)).toEqual(['cork', 'uncork'])
  })

  it('leaves alone what has no TCP socket, or a destroyed one', async () => {
    expect(() => corkUntilTick({})).not.toThrow()
    expect(() => corkUntilTick({ _socket: null })).not.toThrow()
    const { ws, socket, log } = fakeSocket()
    socket.destroyed = true
    corkUntilTick(ws)
    await new Promise((resolve) => process.nextTick(resolve))
    expect(log).toEqual([])
  })
})
