// Writes the same documents into each server's own storage format, the way that server stores them:
// Rhizome's DocStore (update log + snapshots on classic-level), y-leveldb (one record per update),
// Hocuspocus' SQLite table (one row holding the document state, as its Database extension stores it).
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { DocStore } from '@rhizome/store'
import { ClassicLevel } from 'classic-level'
import * as Y from 'yjs'
import { ROOT, YWS_DIR } from './servers.mjs'

const testRequire = createRequire(join(ROOT, 'test/package.json'))
const sqliteRequire = createRequire(testRequire.resolve('@hocuspocus/extension-sqlite'))

/** Rhizome: every update appended through the DocStore (group commit, background compaction finished, as in a relay). */
export async function writeRhizome(dir, docs) {
  const db = new ClassicLevel(dir, { valueEncoding: 'view' })
  await db.open()
  const store = await DocStore.open(db)
  for (const [name, updates] of docs) {
    for (let i = 0; i < updates.length; i += 2000) {
      await Promise.all(updates.slice(i, i + 2000).map((u) => store.append(name, u)))
    }
  }
  // The store as it leaves itself after ingesting: its background compaction finished (a relay
  // compacts while it runs; appending 259,778 updates in seconds outpaces it only transiently).
  await store.settle()
  await store.close()
}

/**
 * y-leveldb as @y/websocket-server loads it (its own y-leveldb copy), one record per update. The
 * first update goes through `storeUpdate` (which also writes the state-vector record); the rest are
 * the exact records `storeUpdate` writes (key `['v1', doc, 'update', clock]`, the update as value),
 * put in batches: one `storeUpdate` at a time would take minutes for the B4 trace.
 */
export async function writeYLeveldb(dir, docs) {
  const { LeveldbPersistence } = createRequire(join(YWS_DIR, 'package.json'))('y-leveldb')
  const ldb = new LeveldbPersistence(dir)
  for (const [name, updates] of docs) {
    if (updates.length === 0) continue
    await ldb.storeUpdate(name, updates[0])
    for (let i = 1; i < updates.length; i += 5000) {
      const ops = updates.slice(i, i + 5000).map((u, j) => ({
        type: 'put',
        key: ['v1', name, 'update', i + j],
        value: Buffer.from(u),
      }))
      await ldb._transact((db) => db.batch(ops))
    }
  }
  await ldb.destroy()
}

/** Hocuspocus' SQLite extension: one row per document with the encoded state, its schema and query. */
export async function writeHocuspocus(file, docs) {
  const { schema, upsertQuery } = await import(testRequire.resolve('@hocuspocus/extension-sqlite'))
  const Database = sqliteRequire('better-sqlite3')
  const db = new Database(file)
  db.exec(schema)
  const upsert = db.prepare(upsertQuery)
  db.transaction(() => {
    for (const [name, updates] of docs) {
      const doc = new Y.Doc()
      doc.transact(() => {
        for (const u of updates) Y.applyUpdate(doc, u)
      })
      upsert.run({ name, data: Buffer.from(Y.encodeStateAsUpdate(doc)) })
      doc.destroy()
    }
  })()
  db.close()
}
