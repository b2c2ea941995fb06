import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { digestOfUpdate } from '@rhizome/protocol'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { catalogDigests, DocWriter, killAdminRuns, runAdmin, signToken, writeText } from './adminSupport.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rhizome-admin-transfer-'))
})
afterEach(killAdminRuns)
afterAll(async () => {
  await stopAllRelays()
  await rm(dir, { recursive: true, force: true })
})

describe('rhizome export / import', () => {
  it('export -> import into an empty relay reproduces the digest', async () => {
    const source = await startRelay()
    const writer = await DocWriter.open(source.url, 'projects/plan')
    await writer.change((doc) => {
      doc.getText('text').insert(0, 'hello world, this is the plan')
      doc.getMap('meta').set('owner', 'ada')
    })
    // A deletion too: the digest covers the delete set.
    await writer.change((doc) => doc.getText('text').delete(0, 6))
    writer.close()
    const sourceDigest = (await catalogDigests(source.httpUrl)).get('projects/plan')
    expect(sourceDigest).toMatch(/^[0-9a-f]{64}$/)

    const file = join(dir, 'plan.yjs')
    const exported = await runAdmin(['export', source.httpUrl, 'projects/plan', '--out', file])
    expect(exported.code).toBe(0)
    expect(exported.stdout.toString()).toContain(`digest ${sourceDigest}`)
    const bytes = await readFile(file)
    expect(digestOfUpdate(bytes)).toBe(sourceDigest)

    // Without --out the update goes to stdout, byte for byte the same state.
    const piped = await runAdmin(['export', source.url, 'projects/plan'])
    expect(piped.code).toBe(0)
    expect(digestOfUpdate(piped.stdout)).toBe(sourceDigest)

    const target = await startRelay()
    const imported = await runAdmin(['import', target.url, 'projects/plan', file])
    expect(imported.code).toBe(0)
    expect(imported.stdout.toString()).toMatch(/durable on 1 relay/)
    expect((await catalogDigests(target.httpUrl)).get('projects/plan')).toBe(sourceDigest)

    // Importing the same file again changes nothing (a merge, not an append of duplicates).
    expect((await runAdmin(['import', target.url, 'projects/plan', file])).code).toBe(0)
    expect((await catalogDigests(target.httpUrl)).get('projects/plan')).toBe(sourceDigest)
  })

  it('import merges into existing content instead of replacing it', async () => {
    const relay = await startRelay()
    await writeText(relay.url, 'merge/doc', 'kept ')
    const other = new Y.Doc()
    other.getMap('extra').set('imported', true)
    const file = join(dir, 'extra.yjs')
    await writeFile(file, Y.encodeStateAsUpdate(other))
    expect((await runAdmin(['import', relay.url, 'merge/doc', file])).code).toBe(0)

    const back = await runAdmin(['export', relay.url, 'merge/doc'])
    const doc = new Y.Doc()
    Y.applyUpdate(doc, back.stdout)
    expect(doc.getText('text').toString()).toBe('kept ')
    expect(doc.getMap('extra').get('imported')).toBe(true)
  })

  it('waits for --copies relays and works with tokens over the socket', async () => {
    const secret = 'transfer-test-secret'
    // Peers of relays with client tokens must share a mesh secret (else /_mesh bypasses tokens).
    const args = ['--auth-secret', secret, '--mesh-secret', 'transfer-mesh-secret']
    const a = await startRelay({ args })
    const b = await startRelay({ args, peers: [a.url] })
    const admin = signToken(secret, { docs: ['**'], access: 'admin' })
    const reader = signToken(secret, { docs: ['**'], access: 'read' })
    const source = new Y.Doc()
    source.getText('text').insert(0, 'replicated')
    const file = join(dir, 'copies.yjs')
    await writeFile(file, Y.encodeStateAsUpdate(source))

    const anonymous = await runAdmin(['import', a.url, 'shared/doc', file, '--timeout', '10000'])
    expect(anonymous.code).toBe(2)
    expect(anonymous.stderr).toMatch(/4401/)
    const readOnly = await runAdmin(['import', a.url, 'shared/doc', file, '--token', reader])
    expect(readOnly.code).toBe(2)
    expect(readOnly.stderr).toMatch(/4403/)

    const run = await runAdmin(['import', b.url, 'shared/doc', file, '--copies', '2'], {
      env: { RHIZOME_TOKEN: admin },
    })
    expect(run.code).toBe(0)
    expect(run.stdout.toString()).toMatch(/durable on 2 relay/)
    // Durable on both: a's copy must already be there, no waiting.
    expect((await catalogDigests(a.httpUrl, admin)).get('shared/doc')).toBe(
      digestOfUpdate(Y.encodeStateAsUpdate(source)),
    )
    const exported = await runAdmin(['export', a.url, 'shared/doc', '--token', reader])
    expect(exported.code).toBe(0)
    expect(digestOfUpdate(exported.stdout)).toBe(digestOfUpdate(Y.encodeStateAsUpdate(source)))
  })

  it('exits 2 on a file that is not a Yjs update, a bad name or an unreachable relay', async () => {
    const relay = await startRelay()
    const junk = join(dir, 'junk.bin')
    await writeFile(junk, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]))
    const badFile = await runAdmin(['import', relay.url, 'doc', junk])
    expect(badFile.code).toBe(2)
    expect(badFile.stderr).toMatch(/not a Yjs v1 update/)
    const missing = await runAdmin(['import', relay.url, 'doc', join(dir, 'nope.yjs')])
    expect(missing.code).toBe(2)
    const badName = await runAdmin(['export', relay.url, '../etc'])
    expect(badName.code).toBe(2)
    expect(badName.stderr).toMatch(/invalid document name/)
    const down = await runAdmin(['export', 'ws://127.0.0.1:9', 'doc'])
    expect(down.code).toBe(2)
    expect(down.stderr).toMatch(/cannot connect/)
    const usage = await runAdmin(['export', relay.url])
    expect(usage.code).toBe(2)
    expect(usage.stderr.trim().split('\n')).toHaveLength(1)
    const unknown = await runAdmin(['export', relay.url, 'never/written'])
    expect(unknown.code).toBe(0)
    expect(unknown.stderr).toMatch(/empty or unknown/)
  })
})
