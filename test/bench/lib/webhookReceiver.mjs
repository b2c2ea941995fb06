// The webhook receiver of the HTTP API scenario: a node:http server on 127.0.0.1 that checks each
// delivery's X-Rhizome-Signature (docs/PROTOCOL.md section 10) and records when it arrived.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

/** Milliseconds since the epoch with sub-millisecond resolution, comparable with `Date.now()`. */
export const epochNow = () => performance.timeOrigin + performance.now()

/**
 * Starts a receiver on 127.0.0.1 and a free port. Every POST gets 204 at once; a body whose
 * signature under `secret` is valid is recorded as `{ doc, at, receivedAt }` (`at` the relay's,
 * `receivedAt` from {@link epochNow} once the body has arrived), any other counts in `badSignatures`.
 * Resolves once it listens; `close()` resolves once it stopped and dropped its connections.
 */
export async function startWebhookReceiver(secret) {
  const deliveries = []
  let badSignatures = 0
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const receivedAt = epochNow()
      const body = Buffer.concat(chunks)
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`)
      const given = Buffer.from(String(req.headers['x-rhizome-signature'] ?? ''))
      if (given.length === expected.length && timingSafeEqual(given, expected)) {
        const { doc, at } = JSON.parse(body.toString('utf8'))
        deliveries.push({ doc, at, receivedAt })
      } else {
        badSignatures++
      }
      res.writeHead(204).end()
    })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    deliveries,
    get badSignatures() {
      return badSignatures
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
