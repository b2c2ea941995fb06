import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

/** One webhook request as the receiver got it. */
export interface ReceivedHook {
  body: string
  signature: string | undefined
  contentType: string | undefined
  at: number
  /** The body parsed, when it is JSON. */
  json: { doc?: string; relay?: string; at?: number } | null
}

/**
 * A webhook receiver on 127.0.0.1 for relay tests: records every request and answers with what
 * `respond` says (200 by default; `'hang'` never answers, as a dead receiver that accepted the
 * connection).
 */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = []
  respond: (hook: ReceivedHook, index: number) => number | 'hang' = () => 200
  readonly #server: Server
  readonly #hanging = new Set<ServerResponse>()

  private constructor(server: Server) {
    this.#server = server
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        let json: ReceivedHook['json'] = null
        try {
          json = JSON.parse(body)
        } catch {}
        const hook: ReceivedHook = {
          body,
          signature: req.headers['x-rhizome-signature'] as string | undefined,
          contentType: req.headers['content-type'],
          at: Date.now(),
          json,
        }
        const index = this.received.push(hook) - 1
        const answer = this.respond(hook, index)
        if (answer === 'hang') this.#hanging.add(res)
        else res.writeHead(answer).end()
      })
    })
  }

  /** Starts listening on a free loopback port. */
  static async start(): Promise<WebhookReceiver> {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return new WebhookReceiver(server)
  }

  get url(): string {
    const { port } = this.#server.address() as { port: number }
    return `http://127.0.0.1:${port}/hook`
  }

  /** Requests announcing `doc`. */
  for(doc: string): ReceivedHook[] {
    return this.received.filter((h) => h.json?.doc === doc)
  }

  /** Stops listening and drops every connection, answered or not. */
  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** `sha256=<hex>` of `body` under `secret`, computed independently of the relay's code. */
export function expectedSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}
