import { spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeMessage, encodeDocName, encodeSyncUpdate } from '@rhizome/protocol'
import WebSocket from 'ws'
import * as Y from 'yjs'

/** The built admin CLI; `pnpm test` builds it before running any test. */
export const ADMIN_CLI = join(dirname(fileURLToPath(import.meta.url)), '../dist/admin.js')

/** Output of one `rhizome` run. */
export interface AdminRun {
  code: number | null
  stdout: Buffer
  stderr: string
}

const children = new Set<import('node:child_process').ChildProcess>()

/** Runs the admin CLI as a real process; kills it after `timeoutMs`. */
export function runAdmin(
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<AdminRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env }
  if (options.env?.RHIZOME_TOKEN === undefined) delete env.RHIZOME_TOKEN
  const child = spawn(process.execPath, [ADMIN_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const stdout: Buffer[] = []
  let stderr = ''
  child.stdout!.on('data', (b: Buffer) => stdout.push(b))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, stdout: Buffer.concat(stdout), stderr })
    })
  })
}

/** Kills admin processes still running (teardown). */
export function killAdminRuns(): void {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

/** A JWT (HS256) for `secret`, minted without a library so the test checks the relay's verifier. */
export function signToken(
  secret: string,
  claims: { docs: string[]; access: 'read' | 'write' | 'admin' },
): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ ...claims, iat: Math.floor(Date.now() / 1000) })}`
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}

/**
 * One writer client on one document: a Y.Doc whose every local change is sent to the relay as a
 * SYNC update on a socket that opted in to ACKs. {@link change} resolves once the relay
 * acknowledged the change as durable.
 */
export class DocWriter {
  readonly doc = new Y.Doc()
  #n = 0
  #acked = 0
  readonly #waiting = new Map<number, () => void>()
  #error: Error | null = null

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const m = decodeMessage(new Uint8Array(data))
      if (m.type !== 'ack') return
      this.#acked = Math.max(this.#acked, m.n)
      for (const [n, resolve] of this.#waiting) {
        if (n <= this.#acked) {
          this.#waiting.delete(n)
          resolve()
        }
      }
    })
    ws.on('close', (code) => {
      this.#error = new Error(`writer socket closed with ${code}`)
    })
    this.doc.on('update', (update: Uint8Array) => {
      this.#n++
      ws.send(encodeSyncUpdate(update))
    })
  }

  static async open(relayUrl: string, name: string, token?: string): Promise<DocWriter> {
    const query = new URLSearchParams({ rhizome: '1' })
    if (token) query.set('token', token)
    const ws = new WebSocket(`${relayUrl}/${encodeDocName(name)}?${query}`)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new DocWriter(ws)
  }

  /** Applies `edit` to the document and resolves once the relay acknowledged it as durable. */
  async change(edit: (doc: Y.Doc) => void): Promise<void> {
    if (this.#error) throw this.#error
    this.doc.transact(() => edit(this.doc))
    const n = this.#n
    if (n <= this.#acked) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(n)
        reject(this.#error ?? new Error(`no ACK for message ${n}`))
      }, 20_000)
      this.#waiting.set(n, () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  close(): void {
    this.ws.close()
  }
}

/** Writes `text` into the `text` field of a document and waits for the durable ACK. */
export async function writeText(relayUrl: string, name: string, text: string, token?: string): Promise<void> {
  const writer = await DocWriter.open(relayUrl, name, token)
  try {
    await writer.change((doc) => doc.getText('text').insert(0, text))
  } finally {
    writer.close()
  }
}

/** `{ name: digest }` of a relay's whole `/docs` catalog. */
export async function catalogDigests(httpUrl: string, token?: string): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>()
  let after: string | null = null
  do {
    const query = new URLSearchParams({ limit: '1000' })
    if (after !== null) query.set('after', after)
    const res = await fetch(`${httpUrl}/docs?${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    if (res.status !== 200) throw new Error(`/docs answered ${res.status}`)
    const page = (await res.json()) as {
      docs: { name: string; digest: string | null }[]
      next: string | null
    }
    for (const d of page.docs) out.set(d.name, d.digest)
    after = page.next
  } while (after !== null)
  return out
}
