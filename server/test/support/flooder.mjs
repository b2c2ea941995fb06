// A hostile client in its own process: sends valid one-item updates to `url` as fast as the
// socket takes them until the relay closes it, then prints `closed <code> <sent>` and exits.
import { encodeSyncUpdate } from '@rhizome/protocol'
import WebSocket from 'ws'
import * as Y from 'yjs'

const ws = new WebSocket(process.argv[2])
const doc = new Y.Doc()
let sent = 0
let open = true
doc.on('update', (u) => {
  if (open) ws.send(encodeSyncUpdate(u))
  sent++
})
const pump = () => {
  if (!open) return
  for (let i = 0; i < 200; i++) doc.getArray('spam').push([sent])
  setImmediate(pump)
}
ws.on('open', pump)
ws.on('error', () => {})
ws.on('close', (code) => {
  open = false
  process.stdout.write(`closed ${code} ${sent}\n`, () => process.exit(0))
})
setTimeout(() => process.exit(3), 60_000).unref()
