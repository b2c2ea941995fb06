import { type IncomingHttpHeaders, request } from 'node:http'

/** An HTTP answer, body read whole. */
export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  /** The body parsed as JSON. */
  json(): Record<string, unknown>
}

export interface HttpRequestOptions {
  body?: Uint8Array | string
  headers?: Record<string, string>
  /** Send the body with `Transfer-Encoding: chunked` (no Content-Length), in chunks of this size. */
  chunkBytes?: number
  timeout?: number
}

/**
 * One HTTP request to `127.0.0.1:port` with `path` sent exactly as given: unlike `fetch`, no URL
 * normalisation, so `..` and `%2e%2e` reach the relay untouched.
 */
export function httpRequest(
  port: number,
  method: string,
  path: string,
  options: HttpRequestOptions = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers }
    const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body
    if (body !== undefined && options.chunkBytes === undefined)
      headers['content-length'] = String(body.length)
    const req = request(
      { host: '127.0.0.1', port, method, path, headers, agent: false, timeout: options.timeout ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const data = Buffer.concat(chunks)
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: data,
            json: () => JSON.parse(data.toString('utf8')) as Record<string, unknown>,
          })
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)))
    req.on('error', reject)
    if (body === undefined) return req.end()
    if (options.chunkBytes === undefined) return req.end(body)
    for (let i = 0; i < body.length; i += options.chunkBytes)
      req.write(body.subarray(i, i + options.chunkBytes))
    req.end()
  })
}
