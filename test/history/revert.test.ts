// History and revert across a mesh (docs/PROTOCOL.md sections 8.1 and 9): three real relays, a
// real device (`openReplica`), the real admin CLI. A note is wiped by the device; `rhizome revert`
// brings the exact earlier content back on every relay and on the device; editing continues; the
// revert itself can be reverted; `export --at` gives the state the device saw at each moment.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DocHandle, openReplica, type Replica } from '@rhizome/client'
import { digestOfDoc, digestOfUpdate } from '@rhizome/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { catalogDigests, killAdminRuns, runAdmin } from '../../server/test/adminSupport.js'
import { eventually } from '../support/poll.mjs'
import { type RelayProcess, startRelay, stopAllRelays } from '../support/relays.js'

const NOTE = 'notes/today'

let relays: RelayProcess[]
let replica: Replica
let note: DocHandle
let storage: string

beforeAll(async () => {
  storage = await mkdtemp(join(tmpdir(), 'rhizome-history-device-'))
  const a = await startRelay()
  const b = await startRelay({ peers: [a.url] })
  const c = await startRelay({ peers: [a.url, b.url] })
  relays = [a, b, c]
  replica = await openReplica({
    relays: relays.map((r) => r.url),
    storage,
    backoff: { initialMs: 50, maxMs: 400 },
  })
  note = await replica.open(NOTE)
  await note.whenSynced({ timeout: 20_000 })
})

afterAll(async () => {
  killAdminRuns()
  await replica?.close().catch(() => {})
  await stopAllRelays()
  await rm(storage, { recursive: true, force: true })
})

/** The note's content: what a revert must bring back exactly (text with formatting, map, list). */
function contentOf(doc: Y.Doc): string {
  return JSON.stringify({
    text: doc.getText('body').toDelta(),
    meta: doc.getMap('meta').toJSON(),
    tags: doc.getArray('tags').toJSON(),
  })
}

/** The note's content on one relay, read through `GET /docs/<name>`. */
async function relayContent(relay: RelayProcess): Promise<string> {
  const res = await fetch(`${relay.httpUrl}/docs/${NOTE}`)
  if (res.status !== 200) throw new Error(`${relay.url} answered ${res.status}`)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()))
  return contentOf(doc)
}

/** Polls until every relay and the device hold `content`, and the relays' digests agree with the device's. */
async function everywhere(content: string, what: string): Promise<void> {
  await eventually(
    async () => {
      if (contentOf(note.doc) !== content) return false
      for (const relay of relays) if ((await relayContent(relay)) !== content) return false
      const digests = await Promise.all(relays.map(async (r) => (await catalogDigests(r.httpUrl)).get(NOTE)))
      return digests.every((d) => d === digestOfDoc(note.doc))
    },
    { timeout: 20_000, what },
  )
}

/** One edit by the device, durable on all three relays. */
async function edit(change: (doc: Y.Doc) => void): Promise<void> {
  note.doc.transact(() => change(note.doc))
  await note.whenDurable(3, { timeout: 20_000 })
}

/**
 * Now, once the clock has moved past it: whatever happens after this returns is received strictly
 * later, so the state at the returned moment excludes it (history is exact to the millisecond).
 */
async function moment(): Promise<number> {
  const at = Date.now()
  await eventually(() => Date.now() > at, { interval: 1, what: 'the next millisecond' })
  return at
}

describe('history and revert on a three-relay mesh with a device', () => {
  /** What the device saw, with the moment it saw it. */
  const seen: { at: number; digest: string; content: string }[] = []
  const record = async () => {
    const at = await moment()
    seen.push({ at, digest: digestOfDoc(note.doc), content: contentOf(note.doc) })
    return at
  }

  it('reverts a wiped note everywhere, keeps editing, and reverts the revert', async () => {
    await edit((doc) => {
      doc.getText('body').insert(0, 'Groceries: milk, eggs')
      doc.getMap('meta').set('title', 'Today')
      doc.getArray('tags').push(['home'])
    })
    await record()
    await edit((doc) => {
      doc.getText('body').format(0, 10, { bold: true })
      doc.getText('body').insert(21, ', bread')
      doc.getMap('meta').set('pinned', true)
    })
    const beforeWipe = await record()
    const kept = seen.at(-1)!.content

    // The wipe: everything deleted by the device, replicated to every relay.
    await edit((doc) => {
      const body = doc.getText('body')
      body.delete(0, body.length)
      for (const key of [...doc.getMap('meta').keys()]) doc.getMap('meta').delete(key)
      doc.getArray('tags').delete(0, doc.getArray('tags').length)
    })
    const wiped = await record()
    const empty = contentOf(note.doc)
    await everywhere(empty, 'the wipe everywhere')

    const revert = await runAdmin([
      'revert',
      relays[1]!.url,
      NOTE,
      '--to',
      new Date(beforeWipe).toISOString(),
    ])
    expect(revert.code, revert.stderr).toBe(0)
    expect(revert.stdout.toString()).toMatch(/^reverted notes\/today on .* durable on \d relay\(s\)\n$/)
    await everywhere(kept, 'the reverted content on every relay and the device')

    // Editing continues on top of the revert, and reaches everyone.
    await edit((doc) => doc.getText('body').insert(doc.getText('body').length, ', apples'))
    const continued = contentOf(note.doc)
    expect(continued).not.toBe(kept)
    await everywhere(continued, 'an edit after the revert')
    const afterEdit = await record()

    // Reverting the revert (and the edit after it) gives the wiped note back ...
    const undo = await runAdmin(['revert', relays[2]!.httpUrl, NOTE, '--to', String(wiped)])
    expect(undo.code, undo.stderr).toBe(0)
    await everywhere(empty, 'the revert reverted')
    // ... and reverting that brings back the note as it was after the edit.
    const redo = await runAdmin(['revert', relays[0]!.url, NOTE, '--to', String(afterEdit)])
    expect(redo.code, redo.stderr).toBe(0)
    await everywhere(continued, 'the edit back again')
  })

  it('export --at gives, on every relay, the state the device saw at that moment', async () => {
    expect(seen.length).toBeGreaterThanOrEqual(4)
    for (const { at, digest, content } of seen) {
      const runs = await Promise.all(relays.map((r) => runAdmin(['export', r.url, NOTE, '--at', String(at)])))
      for (const [i, run] of runs.entries()) {
        const relay = relays[i]!
        expect(run.code, run.stderr).toBe(0)
        expect(digestOfUpdate(run.stdout), `${relay.url} at ${new Date(at).toISOString()}`).toBe(digest)
        const doc = new Y.Doc()
        Y.applyUpdate(doc, run.stdout)
        expect(contentOf(doc)).toBe(content)
      }
    }
  })
})
