import { createServer } from 'node:net'

/**
 * Free ports for relays that are restarted on the same port. They are drawn below Linux's ephemeral
 * range (32768-60999): an outgoing connection of another test can take an ephemeral port as its
 * local port while a killed relay is down, and the restart then fails with EADDRINUSE.
 */
const LOW = 20_000
const HIGH = 32_000

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A port on 127.0.0.1 that is free now and outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW))
    if (await canListen(port)) return port
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`)
}
