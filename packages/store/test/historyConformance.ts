import { digestOfDoc, ErrorCode, isRhizomeError } from '@rhizome/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { prng, testSeed, withSeed } from '../../../test/support/seed.mjs'
import { historyRange } from '../src/history/historyKeys.js'
import { CHECKSUM_BYTES, DocStore, type DocStoreOptions, encodeChecked, revertUpdate } from '../src/index.js'
import { changeKey, docRange, metaKey, repairKey, snapshotKey } from '../src/keys.js'
import { damage, type StoreSetup } from './conformance.js'
import { collect } from './helpers.js'
import { contentOfDoc, contentOfUpdate, RandomEditors, receiverDoc } from './historyEdits.js'

const FILE = 'packages/store/test/history.test.ts'
const RAW = { keyEncoding: 'utf8', valueEncoding: 'view' } as const
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const BASE = 1_800_000_000_000
const EMPTY = contentOfUpdate(new Uint8Array([0, 0]))

/** A history backend: a fresh database, and (where the backend has files) the bytes of its files. */
export interface HistorySetup extends StoreSetup {
  files?: () => Promise<Uint8Array[]>
}

/** Received updates with their receive times and the exact content after each. */
class Timeline {
  readonly times: number[] = []
  readonly contents: string[] = []
  readonly truth = receiverDoc()

  receive(update: Uint8Array, at: number): void {
    Y.applyUpdate(this.truth, update)
    this.times.push(at)
    this.contents.push(contentOfDoc(this.truth))
  }

  /** Content as of `at`: after every update received at or before it. */
  at(at: number): string {
    let i = this.times.length - 1
    while (i >= 0 && this.times[i]! > at) i--
    return i < 0 ? EMPTY : this.contents[i]!
  }

  /** Every content the document had from `from` to `to` (both included). */
  between(from: number, to: number): Set<string> {
    const out = new Set([this.at(from)])
    this.times.forEach((t, i) => {
      if (t >= from && t <= to) out.add(this.contents[i]!)
    })
    return out
  }
}

async function expectCode(work: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  )
  expect(isRhizomeError(err, code), `expected ${code}, got ${String(err)}`).toBe(true)
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(Buffer.from(needle))
}

/** History of the store (receive times, reconstruction, aging, purge, revert) on one backend. */
export function runHistoryConformance(name: string, setup: () => Promise<HistorySetup>): void {
  describe(`DocStore history: ${name}`, () => {
    let env: HistorySetup
    let store: DocStore
    let now = BASE
    const clock = () => now
    const open = async (options: DocStoreOptions = {}) => {
      store = await DocStore.open(env.db, { clock, ...options })
      return store
    }
    const valuesContaining = async (marker: Uint8Array) => {
      const hits: string[] = []
      for await (const [key, value] of env.db.iterator<string, Uint8Array>(RAW))
        if (includesBytes(value, marker)) hits.push(key)
      return hits
    }

    beforeEach(async () => {
      now = BASE
      env = await setup()
    })
    afterEach(async () => {
      await store?.close()
      await env.cleanup()
    })

    it('reconstructs every moment exactly for a day and to the hour before, through compaction, aging and reopen', async () => {
      const seed = testSeed()
      await withSeed(FILE, seed, async () => {
        const rnd = prng(seed)
        const historyMs = 40 * HOUR
        await open({ historyMs, compactAfterUpdates: 3 + Math.floor(rnd() * 20) })
        const editors = new RandomEditors(3, rnd)
        const timeline = new Timeline()
        let t = BASE
        let held: Uint8Array | null = null
        for (let i = 0; i < 300; i++) {
          const update = editors.edit(0.5)
          // Sometimes an update arrives after the next one (it is pending until then).
          if (held === null && rnd() < 0.05) {
            held = update
            continue
          }
          for (const u of held === null ? [update] : [update, held]) {
            const r = rnd()
            t += r < 0.1 ? 0 : r < 0.5 ? Math.floor(rnd() * MINUTE) : Math.floor(rnd() * 40 * MINUTE)
            timeline.receive(u, t)
            await store.append('doc', u, { at: t })
            if (rnd() < 0.02) await store.compact('doc')
          }
          held = null
        }
        now = t + 5 * MINUTE
        await store.settle()
        const oldest = now - historyMs
        const exactFrom = now - 24 * HOUR
        const contentAt = async (at: number) => contentOfUpdate((await store.stateAt('doc', at))!)
        const moments = () => [
          oldest,
          now,
          ...timeline.times.slice(-3),
          ...Array.from({ length: 25 }, () => oldest + Math.floor(rnd() * historyMs)),
        ]
        // Before aging, everything is still exact.
        for (const at of moments()) expect(await contentAt(at), `exact at ${at - BASE}`).toBe(timeline.at(at))

        const digest = await store.getDigest('doc')
        const seq = store.changeSeq
        const report = await store.purgeHistory(now)
        expect(report).toEqual({ docs: 1, changed: 1, done: true })
        // Aging changes no content: same digest, no change seq, exact meta.
        expect(await store.getDigest('doc')).toBe(digest)
        expect(store.changeSeq).toBe(seq)
        const check = async () => {
          for (const at of moments()) {
            const got = await contentAt(at)
            if (at >= exactFrom) expect(got, `exact at ${at - BASE}`).toBe(timeline.at(at))
            else
              expect(timeline.between(at - HOUR, at).has(got), `within the hour at ${at - BASE}`).toBe(true)
          }
        }
        await check()
        await expectCode(store.stateAt('doc', oldest - 1), ErrorCode.HISTORY_UNAVAILABLE)
        await expectCode(store.stateAt('doc', now + 1), ErrorCode.HISTORY_UNAVAILABLE)
        const snapshot = await env.db.get<string, Uint8Array>(snapshotKey('doc'), RAW)
        const info = await store.info('doc')
        const logBytes = (
          await env.db
            .iterator<string, Uint8Array>({ gte: docRange('doc').gte, lt: snapshotKey('doc'), ...RAW })
            .all()
        ).reduce((n, [, v]) => n + v.length - CHECKSUM_BYTES, 0)
        expect(info!.bytes).toBe((snapshot?.length ?? CHECKSUM_BYTES) - CHECKSUM_BYTES + logBytes)

        // A state plus what came after it is the current document.
        const at = exactFrom + Math.floor(rnd() * 24 * HOUR)
        const doc = new Y.Doc()
        Y.applyUpdate(doc, (await store.stateAt('doc', at))!)
        Y.applyUpdate(doc, (await store.updatesSince('doc', at))!)
        expect(digestOfDoc(doc)).toBe(digest)

        // Restore points: newest first, inside the window, each exact where the history is.
        const points = await store.history('doc')
        expect(points.length).toBeGreaterThan(10)
        for (let i = 1; i < points.length; i++) expect(points[i]!.at).toBeLessThan(points[i - 1]!.at)
        const minutes = new Set(
          timeline.times.filter((x) => x >= exactFrom).map((x) => Math.floor(x / MINUTE)),
        )
        expect(points.filter((p) => p.at >= exactFrom).length).toBeLessThanOrEqual(minutes.size)
        for (const p of points) {
          expect(p.at).toBeGreaterThanOrEqual(oldest)
          expect(p.bytes).toBeGreaterThan(0)
          if (p.at >= exactFrom) {
            expect(timeline.times).toContain(p.at)
            expect(await contentAt(p.at)).toBe(timeline.at(p.at))
          }
        }

        await store.close()
        await open({ historyMs })
        await check()
        editors.destroy()
      })
    })

    it('keeps concurrent formatting of nested texts exactly as received (no Yjs formatting cleanup)', async () => {
      // Regression: Yjs deletes format items it finds redundant in typed texts after each applied
      // update, as a change of that replica only. Compaction applies one transaction per receive
      // millisecond, so without a guard its snapshot drifted from the records (digest and states).
      const seed = testSeed()
      await withSeed(FILE, seed, async () => {
        const rnd = prng(seed)
        await open({ compactAfterUpdates: 5 })
        const docs = [1, 2, 3].map((id) => {
          const doc = new Y.Doc()
          doc.clientID = id
          return doc
        })
        const timeline = new Timeline()
        const deliver = async (from: Y.Doc, edit: () => void) => {
          const sv = Y.encodeStateVector(from)
          edit()
          const update = Y.encodeStateAsUpdate(from, sv)
          for (const other of docs) if (other !== from && rnd() < 0.5) Y.applyUpdate(other, update)
          now += 1000
          timeline.receive(update, now)
          await store.append('f', update, { at: now })
        }
        await deliver(docs[0]!, () => docs[0]!.getMap('m').set('k0', new Y.Text('abcdefghij')))
        for (const other of docs.slice(1)) Y.applyUpdate(other, Y.encodeStateAsUpdate(docs[0]!))
        for (let i = 0; i < 80; i++) {
          const doc = docs[Math.floor(rnd() * docs.length)]!
          const text = doc.getMap('m').get('k0') as Y.Text
          const at = Math.floor(rnd() * Math.max(1, text.length - 2))
          const r = rnd()
          await deliver(doc, () => {
            if (r < 0.5)
              text.format(at, Math.min(3, text.length - at), {
                [rnd() < 0.5 ? 'bold' : 'italic']: rnd() < 0.6 ? true : null,
              })
            else if (r < 0.75) text.insert(at, 'xy')
            else if (text.length > 4) text.delete(at, 1)
          })
        }
        await store.settle()
        expect(await store.getDigest('f')).toBe(digestOfDoc(timeline.truth))
        for (const at of timeline.times)
          expect(contentOfUpdate((await store.stateAt('f', at))!)).toBe(timeline.at(at))
      })
    })

    it('reverts through the store to any moment, and reverts the revert', async () => {
      const seed = testSeed()
      await withSeed(FILE, seed, async () => {
        const rnd = prng(seed)
        await open({ compactAfterUpdates: 10 })
        const editors = new RandomEditors(2, rnd)
        const timeline = new Timeline()
        let t = BASE
        for (let i = 0; i < 120; i++) {
          const u = editors.edit(0.7)
          t += Math.floor(rnd() * 5 * MINUTE)
          timeline.receive(u, t)
          await store.append('r', u, { at: t })
        }
        now = t + MINUTE
        const target = BASE + Math.floor(rnd() * (t - BASE))
        const revert = (await store.revertTo('r', target))!
        timeline.receive(revert, now)
        await store.append('r', revert, { at: now })
        expect(contentOfUpdate((await store.getUpdate('r'))!)).toBe(timeline.at(target))
        // The revert is history too: the moment before it can be restored.
        now += MINUTE
        const back = (await store.revertTo('r', now - 2 * MINUTE))!
        await store.append('r', back, { at: now })
        expect(contentOfUpdate((await store.getUpdate('r'))!)).toBe(timeline.at(now - 2 * MINUTE))
        // revertUpdate over the store's reads is what revertTo answers.
        const again = revertUpdate(
          (await store.stateAt('r', target))!,
          (await store.updatesSince('r', target))!,
        )
        const live = new Y.Doc()
        await store.loadInto('r', live)
        Y.applyUpdate(live, again)
        expect(contentOfDoc(live)).toBe(timeline.at(target))
        editors.destroy()
      })
    })

    it('drops history older than the window and purges the content deleted before it', async () => {
      const seed = testSeed()
      await withSeed(FILE, seed, async () => {
        await open({ historyMs: 2 * HOUR })
        const gone = new TextEncoder().encode(`GONE-${seed}`)
        const kept = new TextEncoder().encode(`KEPT-${seed}`)
        const ed = new Y.Doc()
        const text = ed.getText('t')
        const updates: [number, Uint8Array][] = []
        ed.on('update', (u: Uint8Array) => updates.push([now, u]))
        text.insert(0, 'start ')
        text.insert(6, new TextDecoder().decode(gone))
        now += MINUTE
        text.delete(6, gone.length)
        text.insert(6, new TextDecoder().decode(kept))
        now = BASE + 3 * HOUR - 30 * MINUTE
        text.delete(6, kept.length)
        text.insert(6, 'end')
        // Few records: the log is below the compaction threshold, so the purge compacts it first.
        for (const [at, u] of updates) await store.append('p', u, { at })
        now = BASE + 3 * HOUR
        const digest = await store.getDigest('p')
        expect(await valuesContaining(gone)).not.toEqual([])
        const report = await store.purgeHistory(now)
        expect(report.changed).toBe(1)
        expect(await valuesContaining(gone)).toEqual([])
        // Deleted inside the window: kept, since a restore still needs it.
        expect(await valuesContaining(kept)).not.toEqual([])
        expect(contentOfUpdate((await store.stateAt('p', now - 31 * MINUTE))!)).toContain(`KEPT-${seed}`)
        expect((await store.getUpdate('p')) && contentOfUpdate((await store.getUpdate('p'))!)).toContain(
          'start end',
        )
        expect(await store.getDigest('p')).toBe(digest)
        await expectCode(store.stateAt('p', now - 2 * HOUR - 1), ErrorCode.HISTORY_UNAVAILABLE)
        if (env.files) {
          await store.close()
          for (const file of await env.files()) expect(includesBytes(file, gone)).toBe(false)
        }
      })
    })

    it('purges a document: every record, its key ranges on disk, its count and change record', async () => {
      const seed = testSeed()
      await withSeed(FILE, seed, async () => {
        const rnd = prng(seed)
        await open({ compactAfterUpdates: 5 })
        const marker = new TextEncoder().encode(`PURGED-${seed}`)
        const editors = new RandomEditors(2, rnd)
        for (let i = 0; i < 30; i++) {
          now += MINUTE
          await store.append('gone', editors.edit(), { at: now })
          await store.append('stays', editors.edit())
        }
        const ed = new Y.Doc()
        ed.getText('t').insert(0, new TextDecoder().decode(marker))
        await store.append('gone', Y.encodeStateAsUpdate(ed))
        await store.settle()
        // A damaged record leaves a repair marker to purge as well.
        expect(await damage(env.db, docRange('gone'), 0)).toBe(1)
        await store.getUpdate('gone').catch(() => {})
        expect(await store.isCorrupt('gone')).toBe(true)
        const seq = (await collect(store.changesSince(0))).find((c) => c.name === 'gone')!.seq
        const stays = await store.getDigest('stays')
        expect(store.docCount).toBe(2)
        await store.purgeDocument('gone')
        for (const range of [docRange('gone'), historyRange('gone')])
          expect(await env.db.keys({ ...range, keyEncoding: 'utf8' }).all()).toEqual([])
        for (const key of [metaKey('gone'), repairKey('gone'), changeKey(seq)])
          expect(await env.db.get(key, RAW)).toBeUndefined()
        expect(await valuesContaining(marker)).toEqual([])
        expect(store.docCount).toBe(1)
        expect(await store.has('gone')).toBe(false)
        expect(await store.isCorrupt('gone')).toBe(false)
        expect((await collect(store.catalog())).map((e) => e.name)).toEqual(['stays'])
        expect((await collect(store.changesSince(0))).map((c) => c.name)).toEqual(['stays'])
        expect(await store.getDigest('stays')).toBe(stays)
        await store.purgeDocument('never-was')
        // Appending again creates a new document holding only what came after.
        await store.append('gone', Y.encodeStateAsUpdate(new Y.Doc()))
        expect(store.docCount).toBe(2)
        expect(contentOfUpdate((await store.getUpdate('gone'))!)).toBe(EMPTY)
        await store.close()
        if (env.files) for (const file of await env.files()) expect(includesBytes(file, marker)).toBe(false)
        await open()
        expect(store.docCount).toBe(2)
        expect(await store.getDigest('stays')).toBe(stays)
      })
    })

    it('ages history a bounded number of documents per call, resuming where the last call stopped', async () => {
      await open({ historyMs: 2 * HOUR, compactAfterUpdates: 2 })
      const names = ['a', 'b', 'c', 'd', 'e']
      for (const name of names) {
        const ed = new Y.Doc()
        for (let i = 0; i < 4; i++) {
          ed.getText('t').insert(0, `${name}${i}`)
          await store.append(name, Y.encodeStateAsUpdate(ed), { at: BASE + i })
        }
      }
      await store.settle()
      now = BASE + 3 * HOUR
      expect(await store.purgeHistory(now, { maxDocs: 2 })).toEqual({ docs: 2, changed: 2, done: false })
      expect(await store.purgeHistory(now, { maxDocs: 2 })).toEqual({ docs: 2, changed: 2, done: false })
      expect(await store.purgeHistory(now, { maxDocs: 2 })).toEqual({ docs: 1, changed: 1, done: true })
      // Everything aged: a new round changes nothing.
      expect(await store.purgeHistory(now, { maxDocs: 10 })).toEqual({ docs: 5, changed: 0, done: true })
      for (const name of names) {
        expect(await env.db.keys({ ...historyRange(name), keyEncoding: 'utf8' }).all()).toEqual([])
        expect(contentOfUpdate((await store.stateAt(name, now - HOUR))!)).toContain(`${name}3`)
      }
    })

    it('counts records written without receive times as received before history', async () => {
      const ed = new Y.Doc()
      ed.getText('t').insert(0, 'old ')
      await open({ historyMs: 0 })
      await store.append('legacy', Y.encodeStateAsUpdate(ed))
      await store.close()
      // Rewrite the record under a key of the old layout (no time), as stores of earlier versions hold them.
      await env.db.open()
      const [key, value] = (
        await env.db.iterator<string, Uint8Array>({ ...docRange('legacy'), ...RAW }).all()
      )[0]!
      const old = key.slice(0, key.indexOf('@', docRange('legacy').gte.length))
      const payload = value.subarray(CHECKSUM_BYTES)
      await env.db.batch<string, Uint8Array>(
        [
          { type: 'del', key },
          { type: 'put', key: old, value: encodeChecked(old, payload) },
        ],
        RAW,
      )
      await open({ compactAfterUpdates: 2 })
      now = BASE + HOUR
      const sv = Y.encodeStateVector(ed)
      ed.getText('t').insert(4, 'new')
      await store.append('legacy', Y.encodeStateAsUpdate(ed, sv), { at: now })
      expect(contentOfUpdate((await store.stateAt('legacy', now - 1))!)).toContain('old ')
      expect(contentOfUpdate((await store.stateAt('legacy', now - 1))!)).not.toContain('new')
      await store.settle()
      expect((await store.info('legacy'))?.updates).toBe(0)
      expect(contentOfUpdate((await store.stateAt('legacy', now - 1))!)).not.toContain('new')
      expect(contentOfUpdate((await store.stateAt('legacy', now))!)).toContain('old new')
    })

    it('answers unknown documents, documents not yet created, and refuses moments outside the window', async () => {
      await open({ historyMs: HOUR })
      expect(await store.stateAt('nobody', now)).toBeNull()
      expect(await store.updatesSince('nobody', now)).toBeNull()
      expect(await store.revertTo('nobody', now)).toBeNull()
      expect(await store.history('nobody')).toEqual([])
      const ed = new Y.Doc()
      ed.getMap('m').set('k', 1)
      await store.append('late', Y.encodeStateAsUpdate(ed), { at: now })
      expect(contentOfUpdate((await store.stateAt('late', now - 1))!)).toBe(EMPTY)
      expect(contentOfUpdate((await store.stateAt('late', now))!)).toBe(contentOfDoc(ed))
      await expectCode(store.stateAt('late', now + 1), ErrorCode.HISTORY_UNAVAILABLE)
      await expectCode(store.stateAt('late', now - HOUR - 1), ErrorCode.HISTORY_UNAVAILABLE)
      await expect(store.append('late', Y.encodeStateAsUpdate(ed), { at: -1 })).rejects.toThrow(TypeError)
      await expect(store.append('late', Y.encodeStateAsUpdate(ed), { at: 1.5 })).rejects.toThrow(TypeError)
      await store.close()
      await expect(DocStore.open(env.db, { historyMs: -1 })).rejects.toThrow(TypeError)
      // Without history: the current state only, and compaction writes no history.
      await open({ historyMs: 0, compactAfterUpdates: 2 })
      ed.getMap('m').set('k', 2)
      await store.append('late', Y.encodeStateAsUpdate(ed), { at: now })
      await store.compact('late')
      expect(await env.db.keys({ ...historyRange('late'), keyEncoding: 'utf8' }).all()).toEqual([])
      expect(contentOfUpdate((await store.stateAt('late', now))!)).toBe(contentOfDoc(ed))
      await expectCode(store.stateAt('late', now - 1), ErrorCode.HISTORY_UNAVAILABLE)
    })
  })
}
