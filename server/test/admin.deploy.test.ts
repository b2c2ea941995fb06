import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { eventually } from '../../test/support/poll.mjs'
import { startRelay, stopAllRelays } from '../../test/support/relays.js'
import { parseRelayOptions } from '../src/options.js'

const serverDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const k8sDir = join(serverDir, 'deploy/k8s')

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML
type Manifest = Record<string, any>

async function manifests(file: string): Promise<Manifest[]> {
  const docs = parseAllDocuments(await readFile(join(k8sDir, file), 'utf8'))
  for (const doc of docs) expect(doc.errors, file).toEqual([])
  return docs.map((d) => d.toJS() as Manifest)
}

/** Instructions of the Dockerfile, continuation lines joined. */
async function dockerfile(): Promise<{ instruction: string; args: string }[]> {
  const text = (await readFile(join(serverDir, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ')
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [instruction, ...rest] = l.split(/\s+/)
      return { instruction: instruction!.toUpperCase(), args: rest.join(' ') }
    })
}

let tmp: string
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rhizome-deploy-'))
})
afterAll(async () => {
  await stopAllRelays()
  await rm(tmp, { recursive: true, force: true })
})

const secrets = { RHIZOME_AUTH_SECRET: 'auth-secret-for-test', RHIZOME_MESH_SECRET: 'mesh-secret-for-test' }

describe('Dockerfile', () => {
  it('is multi-stage, runs as a non-root user, checks /healthz and starts the relay CLI', async () => {
    const lines = await dockerfile()
    const froms = lines.filter((l) => l.instruction === 'FROM')
    expect(froms.length).toBeGreaterThanOrEqual(2)
    expect(froms.at(-1)!.args).toMatch(/ AS runtime$/)
    const lastFrom = lines.lastIndexOf(froms.at(-1)!)
    const runtime = lines.slice(lastFrom)
    const user = runtime.filter((l) => l.instruction === 'USER').at(-1)
    expect(user?.args).toBeDefined()
    expect(user!.args).not.toMatch(/^(root|0)(:|$)/)
    expect(runtime.find((l) => l.instruction === 'HEALTHCHECK')?.args).toMatch(/\/healthz/)
    // The runtime stage gets only the deployed relay, not the workspace sources.
    for (const copy of runtime.filter((l) => l.instruction === 'COPY'))
      expect(copy.args).toMatch(/--from=build \/out\//)

    const entrypoint = JSON.parse(runtime.find((l) => l.instruction === 'ENTRYPOINT')!.args) as string[]
    const cmd = JSON.parse(runtime.find((l) => l.instruction === 'CMD')!.args) as string[]
    expect(entrypoint).toEqual(['rhizome-relay'])
    expect(
      runtime.some(
        (l) => l.instruction === 'RUN' && l.args.includes('/app/dist/cli.js /usr/local/bin/rhizome-relay'),
      ),
    ).toBe(true)
    const options = parseRelayOptions(cmd, secrets)
    expect(options).toMatchObject({ host: '0.0.0.0', dataDir: '/data', port: 4440 })
    // The image's start command fails fast without the secrets, as the k8s Secret provides them.
    expect(() => parseRelayOptions(cmd, {})).toThrow(/--auth-secret/)
  })

  it("the image's start arguments start a real relay", async () => {
    const lines = await dockerfile()
    const cmd = JSON.parse(lines.filter((l) => l.instruction === 'CMD').at(-1)!.args) as string[]
    // Same arguments except the data directory (a temp dir instead of /data); the port is picked free.
    const dataAt = cmd.indexOf('--data')
    const args = cmd.filter((_, i) => i !== dataAt && i !== dataAt + 1)
    const relay = await startRelay({ args, env: secrets })
    const health = await eventually(async () => {
      const res = await fetch(`${relay.httpUrl}/healthz`)
      return res.status === 200 ? ((await res.json()) as { ok: boolean }) : null
    })
    expect(health.ok).toBe(true)
  })
})

describe('k8s manifests', () => {
  it('parse as YAML with the expected kinds', async () => {
    const all = (
      await Promise.all(
        ['secret.yaml', 'service.yaml', 'statefulset.yaml', 'pdb.yaml', 'kustomization.yaml'].map(manifests),
      )
    ).flat()
    expect(all.map((m) => m.kind).sort()).toEqual(
      ['Kustomization', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet'].sort(),
    )
    for (const m of all) expect(m.apiVersion, m.kind).toBeTypeOf('string')
    const kustomization = all.find((m) => m.kind === 'Kustomization')!
    expect(kustomization.resources).toEqual(['secret.yaml', 'service.yaml', 'statefulset.yaml', 'pdb.yaml'])
  })

  it('wire a headless Service, one volume per relay, probes on /healthz, a PDB and the secrets', async () => {
    const [secret] = await manifests('secret.yaml')
    const services = await manifests('service.yaml')
    const [set] = await manifests('statefulset.yaml')
    const [pdb] = await manifests('pdb.yaml')
    const headless = services.find((s) => s.spec.clusterIP === 'None')!
    expect(set!.spec.serviceName).toBe(headless.metadata.name)
    expect(headless.spec.publishNotReadyAddresses).toBe(true)
    const labels = set!.spec.template.metadata.labels
    for (const selector of [
      headless.spec.selector,
      set!.spec.selector.matchLabels,
      pdb!.spec.selector.matchLabels,
    ]) {
      expect(labels).toMatchObject(selector)
    }
    expect(set!.spec.volumeClaimTemplates).toHaveLength(1)
    const container = set!.spec.template.spec.containers[0]
    expect(container.volumeMounts).toContainEqual({
      name: set!.spec.volumeClaimTemplates[0].metadata.name,
      mountPath: '/data',
    })
    for (const probe of ['livenessProbe', 'readinessProbe'])
      expect(container[probe].httpGet.path).toBe('/healthz')
    expect(set!.spec.template.spec.securityContext.runAsNonRoot).toBe(true)
    expect(pdb!.spec.maxUnavailable).toBe(1)
    for (const [env, key] of [
      ['RHIZOME_AUTH_SECRET', 'auth-secret'],
      ['RHIZOME_MESH_SECRET', 'mesh-secret'],
    ]) {
      const ref = container.env.find((e: Manifest) => e.name === env).valueFrom.secretKeyRef
      expect(ref).toEqual({ name: secret!.metadata.name, key })
      expect(secret!.stringData[key!]).toBeTypeOf('string')
    }
  })

  it('the start script gives relay N the pod DNS names of relays 0..N-1 as --peers, accepted by the CLI', async () => {
    const [set] = await manifests('statefulset.yaml')
    const container = set!.spec.template.spec.containers[0]
    const [shell, flag, script] = container.command as string[]
    expect([shell, flag]).toEqual(['/bin/sh', '-c'])
    // A stand-in rhizome-relay on PATH records the arguments and the peers the script exports.
    const bin = join(tmp, 'bin')
    await rm(bin, { recursive: true, force: true })
    await mkdir(bin)
    await writeFile(
      join(bin, 'rhizome-relay'),
      '#!/bin/sh\nprintf "%s\\n" "PEERS=$RHIZOME_PEERS"\nfor a in "$@"; do printf "%s\\n" "$a"; done\n',
    )
    await chmod(join(bin, 'rhizome-relay'), 0o755)
    const env: Record<string, string> = { PATH: `${bin}:${process.env.PATH}`, POD_NAMESPACE: 'prod' }
    for (const e of container.env as Manifest[]) if (typeof e.value === 'string') env[e.name] = e.value

    const run = (hostname: string) =>
      new Promise<string[]>((resolve, reject) => {
        const child = spawn(shell!, [flag!, script!], { env: { ...env, HOSTNAME: hostname } })
        let out = ''
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s
        })
        child.once('error', reject)
        child.once('close', (code) =>
          code === 0 ? resolve(out.trimEnd().split('\n')) : reject(new Error(`exit ${code}`)),
        )
      })

    const [peers0, ...args0] = await run('rhizome-0')
    expect(peers0).toBe('PEERS=')
    const [peers2, ...args2] = await run('rhizome-2')
    const peerList = peers2!.slice('PEERS='.length)
    expect(peerList).toBe(
      'ws://rhizome-0.rhizome-mesh.prod.svc.cluster.local:4440,ws://rhizome-1.rhizome-mesh.prod.svc.cluster.local:4440',
    )
    const options = parseRelayOptions(args2, { ...env, ...secrets, RHIZOME_PEERS: peerList })
    expect(options).toMatchObject({ host: '0.0.0.0', dataDir: '/data/relay', id: 'rhizome-2', port: 4440 })
    expect(options.peers).toHaveLength(2)
    expect(parseRelayOptions(args0, { ...env, ...secrets }).peers).toEqual([])
    // The DNS names are those of the headless Service's pods.
    const services = await manifests('service.yaml')
    const headless = services.find((s) => s.spec.clusterIP === 'None')!
    expect(peerList).toContain(`.${headless.metadata.name}.`)
    expect(peerList).toContain(`${set!.metadata.name}-0.`)
    expect(headless.spec.ports[0].port).toBe(4440)
  })
})
