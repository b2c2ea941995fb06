import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode } from '@rhizome/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { eventually } from '../../../test/support/poll.mjs'
import { openReplica, type ReplicaStatus } from '../src/index.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A tiny server that closes every socket with `code` right after the upgrade, counting attempts. */
async function closingServer(code: number): Promise<{ url: string; attempts: () => number; urls: string[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const urls: string[] = []
  wss.on('connection', (ws, req) => {
    urls.push(req.url ?? '')
    ws.close(code, `closing with ${code}`)
  })
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close(() => resolve())
      }),
  )
  const { port } = wss.address() as { port: number }
  return { url: `ws://127.0.0.1:${port}`, attempts: () => urls.length, urls }
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rhizome-client-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('relays that refuse or fail', () => {
  for (const [code, errorCode] of [
    [4401, ErrorCode.AUTH_INVALID],
    [4403, ErrorCode.AUTH_FORBIDDEN],
    [4429, ErrorCode.RATE_LIMITED],
  ] as const) {
    it(`${code}: stops retrying that relay and reports 'refused' with ${errorCode}; a 4500 relay keeps being retried`, async () => {
      const refusing = await closingServer(code)
      const transient = await closingServer(4500)
      const replica = await openReplica({
        relays: [refusing.url, transient.url],
        storage: await tempDir(),
        token: 'tok en',
        backoff: { initialMs: 5, maxMs: 20 },
      })
      // Sessions start with the replica, so the refusal may come before open() resolves: listen
      // to the replica's status from the start.
      const seen: ReplicaStatus[] = []
      replica.on('status', (s) => seen.push(s))
      cleanups.push(() => replica.close())
      const handle = await replica.open('team/notes')

      await eventually(() => handle.status.relays[0]?.state === 'refused', { what: 'refused state' })
      const refused = handle.status.relays[0]!
      expect(refused.error?.code).toBe(errorCode)
      expect(refused.closeCode).toBe(code)
      expect(seen.some((s) => s.relays[0]?.state === 'refused')).toBe(true)
      // The transient relay is retried many times meanwhile; the refusing one never again.
      await eventually(() => transient.attempts() >= 6, { what: 'six attempts at the 4500 relay' })
      expect(refusing.attempts()).toBe(1)
      expect(handle.status.relays[1]!.state).not.toBe('refused')
      expect(handle.status.relays[1]!.error?.code).toBe(ErrorCode.RELAY_UNAVAILABLE)
      // Local edits go on regardless.
      handle.doc.getText('t').insert(0, 'still works')
      await handle.whenDurable(0)
      // One session per relay (not a socket per document): /_session with the token.
      const url = new URL(refusing.urls[0]!, 'ws://x')
      expect(url.pathname).toBe('/_session')
      expect(url.searchParams.get('token')).toBe('tok en')
    })
  }

  it('whenSynced rejects once every relay refused', async () => {
    const refusing = await closingServer(4403)
    const replica = await openReplica({ relays: [refusing.url], storage: await tempDir() })
    cleanups.push(() => replica.close())
    const handle = await replica.open('doc')
    await expect(handle.whenSynced({ timeout: 10_000 })).rejects.toMatchObject({
      code: ErrorCode.AUTH_FORBIDDEN,
    })
  })

  it('1001 (relay going away) and unreachable relays are retried with backoff', async () => {
    const goingAway = await closingServer(1001)
    // A port with nothing listening: network errors.
    const dead = await closingServer(1001)
    const deadUrl = dead.url
    await cleanups.pop()!()
    const replica = await openReplica({
      relays: [goingAway.url, deadUrl],
      storage: await tempDir(),
      backoff: { initialMs: 5, maxMs: 20 },
    })
    cleanups.push(() => replica.close())
    const handle = await replica.open('doc')
    await eventually(() => goingAway.attempts() >= 4, { what: 'reconnects after 1001' })
    await eventually(() => handle.status.relays[1]?.error?.code === ErrorCode.RELAY_UNAVAILABLE, {
      what: 'network error reported',
    })
    expect(handle.status.relays.every((r) => r.state !== 'refused')).toBe(true)
  })
})
