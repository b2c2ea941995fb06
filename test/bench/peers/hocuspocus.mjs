// Starts @hocuspocus/server 4.x with @hocuspocus/extension-sqlite on a file: its durable setup.
// Hocuspocus ships no CLI; this is the configuration its documentation shows, on 127.0.0.1.
// Usage: node hocuspocus.mjs --data FILE [--max-pending-documents N]
//   -> prints `hocuspocus listening on ws://127.0.0.1:PORT`
// `--max-pending-documents`: documents one socket may open before they authenticated (Hocuspocus'
// default, 100, resets a multiplexed socket that opens more at once, as on every reconnect).
import { SQLite } from '@hocuspocus/extension-sqlite'
import { Server } from '@hocuspocus/server'

const at = process.argv.indexOf('--data')
const database = at > 0 ? process.argv[at + 1] : ':memory:'
const pendingAt = process.argv.indexOf('--max-pending-documents')
const maxPendingDocuments = pendingAt > 0 ? Number(process.argv[pendingAt + 1]) : undefined
const server = new Server({
  address: '127.0.0.1',
  port: 0,
  quiet: true,
  maxPendingDocuments,
  extensions: [new SQLite({ database })],
})
// Port 0 comes from the configuration: `listen(port)` ignores a falsy argument.
await server.listen()
console.log(`hocuspocus listening on ws://127.0.0.1:${server.address.port}`)
