#!/usr/bin/env node
import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import { parseRelayOptions, RELAY_USAGE } from './options.js'
import type { Relay } from './Relay.js'

/** `rhizome-relay [options]`: runs one relay until SIGTERM/SIGINT. */
async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(RELAY_USAGE)
    return
  }
  let relay: Relay
  try {
    const options = parseRelayOptions(argv, process.env)
    // Loaded after parsing so that a bad option fails fast, before the server's dependencies load.
    const { Relay } = await import('./Relay.js')
    relay = new Relay(options)
    await relay.start()
  } catch (err) {
    if (isRhizomeError(err, ErrorCode.USAGE)) {
      process.stderr.write(`rhizome-relay: ${err.message}\n`)
      process.exit(2)
    }
    const code = (err as { code?: string }).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`rhizome-relay: --port/--host: cannot listen (${code})\n`)
      process.exit(2)
    }
    throw err
  }
  process.stdout.write(`rhizome-relay ${relay.id} listening on ${relay.url}\n`)
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    relay.log.info({ signal }, 'shutting down')
    relay.stop().then(
      () => {
        relay.log.flush?.()
        process.exit(0)
      },
      (err) => {
        relay.log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`rhizome-relay: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
