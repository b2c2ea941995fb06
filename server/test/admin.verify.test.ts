import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { killAdminRuns, runAdmin, signToken, writeText } from './adminSupport.js'

afterEach(killAdminRuns)
afterAll(stopAllRelays)

describe('rhizome verify', () => {
  it('exits 0 on a converged mesh, 1 naming the document written to a cut-off relay, 0 after healing', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    const c = await startRelay({ peers: [a.url, b.url] })
    for (let i = 0; i < 5; i++) await writeText(a.url, `notes/doc-${i}`, `hello ${i}`)
    await writeText(c.url, 'notes/from-c', 'written on c')

    const converged = await eventually(
      async () => {
        const run = await runAdmin(['verify', a.url, b.httpUrl, c.url])
        return run.code === 0 ? run : null
      },
      { what: 'verify to report a converged mesh' },
    )
    expect(converged.stdout.toString()).toContain('verify: 3 relays, 6 documents, 6 converged, 0 diverged')

    // Cut c off: the same data directory served by a relay without peers.
    await c.stop()
    const isolated = await startRelay({ dataDir: c.dataDir })
    await writeText(isolated.url, 'notes/offline', 'only on the isolated relay')
    await writeText(isolated.url, 'notes/doc-2', ' and an edit')

    const diverged = await runAdmin(['verify', a.url, b.url, isolated.url])
    expect(diverged.code).toBe(1)
    const out = diverged.stdout.toString()
    const lines = out.trim().split('\n')
    const offline = lines.find((l) => l.startsWith('diverged notes/offline '))
    expect(offline).toBeDefined()
    expect(offline).toContain(`${a.url},${b.url}=missing`)
    expect(offline).toMatch(new RegExp(`${isolated.url}=[0-9a-f]{12}`))
    const edited = lines.find((l) => l.startsWith('diverged notes/doc-2 '))
    expect(edited).toMatch(new RegExp(`${a.url},${b.url}=[0-9a-f]{12}  ${isolated.url}=[0-9a-f]{12}`))
    expect(lines.at(-1)).toBe('verify: 3 relays, 7 documents, 5 converged, 2 diverged')

    // Heal: c comes back with its peers on the same directory.
    await isolated.stop()
    await c.start()
    const healed = await eventually(
      async () => {
        const run = await runAdmin(['verify', a.url, b.url, c.url])
        return run.code === 0 ? run : null
      },
      { what: 'verify to report convergence after healing', timeout: 30_000 },
    )
    expect(healed.stdout.toString()).toContain('7 documents, 7 converged, 0 diverged')
  })

  it('streams catalogs larger than one page', async () => {
    const a = await startRelay()
    const b = await startRelay({ peers: [a.url] })
    const names = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(2, '0')}`)
    await Promise.all(names.map((name) => writeText(a.url, name, name)))
    await writeText(b.url, 'page/zz-late', 'x')
    const run = await eventually(
      async () => {
        const r = await runAdmin(['verify', a.url, b.url, '--page-size', '4'])
        return r.code === 0 ? r : null
      },
      { what: 'paged verify to converge' },
    )
    expect(run.stdout.toString()).toContain('26 documents, 26 converged')
  })

  it('uses the admin token from --token or RHIZOME_TOKEN and exits 2 without it', async () => {
    const secret = 'verify-test-secret'
    const a = await startRelay({ args: ['--auth-secret', secret] })
    const b = await startRelay({ args: ['--auth-secret', secret] })
    const admin = signToken(secret, { docs: ['**'], access: 'admin' })
    const writer = signToken(secret, { docs: ['**'], access: 'write' })

    const anonymous = await runAdmin(['verify', a.url, b.url])
    expect(anonymous.code).toBe(2)
    expect(anonymous.stderr).toMatch(/admin token/)
    expect(anonymous.stderr.trim().split('\n')).toHaveLength(1)

    const notAdmin = await runAdmin(['verify', a.url, b.url, '--token', writer])
    expect(notAdmin.code).toBe(2)
    expect(notAdmin.stderr).toMatch(/admin access/)

    await writeText(a.url, 'secret/doc', 'x', writer)
    const withFlag = await runAdmin(['verify', '--token', admin, a.url, b.url])
    expect(withFlag.code).toBe(1)
    expect(withFlag.stdout.toString()).toContain(`diverged secret/doc  ${a.url}=`)
    const withEnv = await runAdmin(['verify', a.url, b.url], { env: { RHIZOME_TOKEN: admin } })
    expect(withEnv.code).toBe(1)
  })

  it('exits 2 on usage errors and unreachable relays', async () => {
    const one = await runAdmin(['verify', 'ws://127.0.0.1:9'])
    expect(one.code).toBe(2)
    expect(one.stderr).toMatch(/^rhizome verify: expected at least two relay URLs/)
    const bad = await runAdmin(['verify', 'ftp://x', 'ws://127.0.0.1:9'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/ftp:\/\/x/)
    const a = await startRelay()
    const down = await runAdmin(['verify', a.url, 'http://127.0.0.1:9'])
    expect(down.code).toBe(2)
    expect(down.stderr).toMatch(/http:\/\/127\.0\.0\.1:9: cannot reach the relay/)
  })
})
