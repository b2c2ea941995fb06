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

/** Rhizome: every update appended through the DocStore (group commit, compaction as in the relay). */
export async function writeRhizome(dir, docs) {
  const db = new ClassicLevel(dir, { valueEncoding: 'view' })
  await db.open()
  const store = await DocStore.open(db)
  for (const [name, updates] of docs) {
    for (let i = 0; i < updates.length; i += 2000) {
      await Promise.all(updates.slice(i, i + 2000).map((u) => store.append(name, u)))
    }
  }
  await store.close()
}

/** y-leveldb as @y/websocket-server loads it (its own y-leveldb copy): one `storeUpdate` per update. */
export async function writeYLeveldb(dir, docs) {
  const { LeveldbPersistence } = createRequire(join(YWS_DIR, 'package.json'))('y-leveldb')
  const ldb = new LeveldbPersistence(dir)
  for (const [name, updates] of docs) for (const u of updates) await ldb.storeUpdate(name, u)
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
