import type { IncomingMessage } from 'node:http'

/**
 * Reads a request body of at most `maxBytes`. Returns `null` as soon as the body is known to be
 * larger (from `Content-Length`, before reading anything, or once the bytes read pass the limit):
 * nothing past the limit is kept. The caller answers 413 and closes the connection.
 * @throws Error when the request is aborted or fails while being read.
 */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | null> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve(null)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    const onData = (chunk: Buffer) => {
      length += chunk.length
      if (length > maxBytes) {
        cleanup()
        req.pause()
        chunks.length = 0
        resolve(null)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      const body = Buffer.concat(chunks, length)
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(err)
    }
    const onAborted = () => onError(new Error('request aborted'))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}
