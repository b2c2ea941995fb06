import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// docs/PROTOCOL.md section 10: the four packages install from their `pnpm pack` tarballs into a
// project outside this repository and work there. This test packs them, inspects every tarball,
// installs them (plus yjs from the npm registry or its cache) into a temporary directory and runs
// an app there (fixtures/embedApp.mjs).

const run = promisify(execFile)
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const PACKAGES = [
  { name: '@rhizome/protocol', dir: 'packages/protocol' },
  { name: '@rhizome/store', dir: 'packages/store' },
  { name: '@rhizome/client', dir: 'packages/client' },
  { name: '@rhizome/relay', dir: 'server' },
] as const
/** npm failures that mean "no registry here", the only reason to skip (and never under CI). */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network/i

interface PackageJson {
  name: string
  version: string
  private?: boolean
  files?: string[]
  engines?: { node?: string }
  exports?: Record<string, unknown>
  bin?: Record<string, string>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2022', 'DOM'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
  },
  files: ['consumer.ts'],
}

let work: string
const tarballs = new Map<string, string>()
const children = new Set<ChildProcess>()

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'rhizome-pack-'))
  expect(relative(ROOT, work).startsWith('..')).toBe(true)
  await mkdir(join(work, 'tarballs'))
  for (const pkg of PACKAGES) {
    // pnpm pack runs the package's prepack (tsc -b) and rewrites workspace:* to versions.
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', join(work, 'tarballs')], {
      cwd: join(ROOT, pkg.dir),
      maxBuffer: 16 * 1024 * 1024,
    })
    const tarball = stdout.trim().split('\n').at(-1)!.trim()
    expect(tarball.endsWith('.tgz'), stdout).toBe(true)
    tarballs.set(pkg.name, tarball)
  }
}, 120_000)

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  if (work) await rm(work, { recursive: true, force: true })
})

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name))
  }
  return out
}

/** Every module specifier a compiled ES module imports (static, re-export, side effect, dynamic). */
function importsOf(source: string): string[] {
  const found = new Set<string>()
  const patterns = [
    // Declarations start a line in compiled output; `[^;]` lets one span several lines.
    /^(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const re of patterns) for (const m of source.matchAll(re)) found.add(m[1]!)
  return [...found]
}

/** `@scope/name/sub` -> `@scope/name`; `lib0/decoding` -> `lib0`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

describe('packages from pnpm pack', () => {
  it('hold a complete dist and README, publishable metadata, and import only what they declare', async () => {
    const builtins = new Set(builtinModules)
    for (const pkg of PACKAGES) {
      const into = join(work, 'extract', pkg.name.replace('/', '+'))
      await mkdir(into, { recursive: true })
      await run('tar', ['-xzf', tarballs.get(pkg.name)!, '-C', into])
      const root = join(into, 'package')
      const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson
      expect(manifest.private, pkg.name).toBeUndefined()
      expect(manifest.version).toMatch(/^\d+\.\d+\.\d+/)
      expect(manifest.engines?.node).toBe('>=20.19')
      expect(JSON.stringify(manifest)).not.toContain('workspace:')
      // One Yjs per app: never a dependency of its own, always the app's.
      expect(manifest.dependencies?.yjs, pkg.name).toBeUndefined()
      expect(manifest.peerDependencies?.yjs, pkg.name).toMatch(/^\^13\./)
      for (const dep of Object.keys(manifest.dependencies ?? {}).filter((d) => d.startsWith('@rhizome/')))
        expect(manifest.dependencies![dep]).toBe(manifest.version)

      const files = (await listFiles(root)).map((f) => relative(root, f).split(sep).join('/'))
      expect(files).toContain('README.md')
      expect(files).toContain('dist/index.js')
      expect(files).toContain('dist/index.d.ts')
      for (const bin of Object.values(manifest.bin ?? {})) expect(files).toContain(bin.replace(/^\.\//, ''))
      expect(
        files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json'),
      ).toEqual([])
      // Complete: every source module is there compiled, and nothing else is (no stale builds).
      const sources = (await listFiles(join(ROOT, pkg.dir, 'src')))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
        .map(
          (f) =>
            `dist/${relative(join(ROOT, pkg.dir, 'src'), f)
              .split(sep)
              .join('/')
              .replace(/\.ts$/, '.js')}`,
        )
      const compiled = files.filter((f) => f.endsWith('.js'))
      expect(compiled.sort()).toEqual(sources.sort())

      const allowed = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {}),
      ])
      for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
        const source = await readFile(join(root, file), 'utf8')
        for (const specifier of importsOf(source)) {
          const where = `${pkg.name}/${file} imports '${specifier}'`
          if (specifier.startsWith('.')) {
            const target = resolve(dirname(join(root, file)), specifier)
            expect(relative(root, target).startsWith('..'), where).toBe(false)
            const inside = relative(root, target).split(sep).join('/')
            const candidates = file.endsWith('.d.ts') ? [inside.replace(/\.js$/, '.d.ts'), inside] : [inside]
            expect(
              candidates.some((c) => files.includes(c)),
              where,
            ).toBe(true)
          } else if (specifier.startsWith('node:') || builtins.has(specifier)) {
            // Node built-in.
          } else {
            expect(specifier.startsWith('/'), where).toBe(false)
            expect(allowed.has(packageOf(specifier)), `${where}, which is not a dependency`).toBe(true)
          }
        }
      }
    }
  })

  it('install outside the repository and run an app: startRelay with hooks, openReplica, the HTTP API, a signed webhook', async (ctx) => {
    const app = join(work, 'app')
    await mkdir(app)
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'rhizome-embed-app', private: true, type: 'module' }),
    )
    // The versions the workspace uses, so that npm's cache can answer.
    const versionOf = async (path: string) =>
      (JSON.parse(await readFile(join(ROOT, path, 'package.json'), 'utf8')) as { version: string }).version
    const yjsVersion = await versionOf('test/node_modules/yjs')
    const typesNodeVersion = await versionOf('node_modules/@types/node')
    try {
      await run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          ...tarballs.values(),
          `yjs@${yjsVersion}`,
          `@types/node@${typesNodeVersion}`,
        ],
        { cwd: app, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      )
    } catch (err) {
      const text = `${(err as { stderr?: string }).stderr ?? ''} ${String(err)}`
      if (!process.env.CI && OFFLINE.test(text)) {
        console.warn(`skipping the install test: the npm registry is unreachable\n${text}`)
        ctx.skip()
      }
      throw err
    }

    // The packages came from the tarballs, never from a registry, and the app has one Yjs.
    const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; version?: string }>
    }
    for (const pkg of PACKAGES) {
      const entry = lock.packages[`node_modules/${pkg.name}`]
      expect(entry?.resolved, pkg.name).toMatch(/^file:.*\.tgz$/)
    }
    const yjsCopies = Object.keys(lock.packages).filter(
      (p) => p === 'node_modules/yjs' || p.endsWith('/node_modules/yjs'),
    )
    expect(yjsCopies).toEqual(['node_modules/yjs'])

    // Both bins start (every module they import is in the tarball).
    const bin = (name: string) => join(app, 'node_modules/.bin', name)
    expect((await run(bin('rhizome-relay'), ['--help'], { cwd: app })).stdout).toContain(
      'Usage: rhizome-relay',
    )
    expect((await run(bin('rhizome'), ['--help'], { cwd: app })).stdout).toContain('rhizome')

    // The published types resolve in the app: a TypeScript consumer type-checks against them with
    // skipLibCheck off (errors inside other packages' own types are theirs, not counted).
    await copyFile(join(ROOT, 'test/embed/fixtures/consumer.ts'), join(app, 'consumer.ts'))
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG))
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
    const typeErrors = await run(process.execPath, [tsc, '-p', '.'], { cwd: app }).then(
      () => [],
      (err: { stdout?: string }) =>
        (err.stdout ?? String(err))
          .split('\n')
          .filter((l) => /^(consumer\.ts|node_modules\/@rhizome\/)/.test(l)),
    )
    expect(typeErrors).toEqual([])

    await copyFile(join(ROOT, 'test/embed/fixtures/embedApp.mjs'), join(app, 'app.mjs'))
    const child = spawn(process.execPath, ['app.mjs'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    const code = await new Promise<number | null>((resolveExit) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.once('exit', (c) => {
        clearTimeout(timer)
        children.delete(child)
        resolveExit(c)
      })
    })
    expect(code, `app failed:\n${stderr}\n${stdout}`).toBe(0)
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!)

    for (const resolved of Object.values(out.resolved as Record<string, string>)) {
      const path = fileURLToPath(resolved)
      expect(path.startsWith(join(app, 'node_modules')), path).toBe(true)
    }
    expect(out.storeExport).toBe('function')
    expect(out.relay.url).toBe(`ws://127.0.0.1:${out.relay.port}`)
    expect(out.durable).toBe(true)
    expect(out.post).toEqual({ status: 200, body: { copies: 1 } })
    expect(out.getSynced).toEqual({
      status: 200,
      type: 'application/octet-stream',
      text: 'synced from a replica',
    })
    expect(out.getPosted.text).toBe('posted over http')
    expect(out.anonymousStatus).toBe(401)
    expect(out.readerPostStatus).toBe(403)
    expect(out.authCalls).toContainEqual({ token: 'app-writer', doc: 'notes/embedded' })
    expect(out.changes).toContainEqual(expect.objectContaining({ doc: 'notes/embedded', origin: 'client' }))
    expect(out.changes).toContainEqual(expect.objectContaining({ doc: 'notes/posted', origin: 'http' }))
    for (const doc of ['notes/embedded', 'notes/posted']) {
      const hook = out.hooks.find((h: { json: { doc: string } }) => h.json.doc === doc)
      expect(hook, doc).toMatchObject({
        verified: true,
        matchesOwnHmac: true,
        json: { doc, relay: out.relay.id },
      })
    }
  }, 150_000)
})
