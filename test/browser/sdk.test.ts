import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openReplica, type Replica } from '@rhizome/client'
import { MemoryLevel } from 'memory-level'
import { build, type PreviewServer, preview } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RelayProcess, startRelay, stopAllRelays } from '../support/relays.js'
import { type BrowserSession, chromiumAvailable, launchSession, requireChromium } from './support/chromium.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/sdk')
const POLL = { timeout: 20_000, interval: 100 }
const DOC = 'browser/sdk-check'

/** What the page reports after a round of work with the SDK. */
interface PageResult {
  text: string
  copies: number
  states: string[]
}

/**
 * Runs in the page: opens the replica (IndexedDB `sdk-test`), appends `insert` to the text (if
 * any), waits for `wait` ('synced', 'durable' or 'none') and reports the text and status.
 */
interface RoundArgs {
  relay: string
  insert: string
  wait: 'durable' | 'none'
}

function pageRound(args: RoundArgs): Promise<PageResult> {
  return (async () => {
    type Sdk = { client: typeof import('@rhizome/client'); Y: typeof import('yjs') }
    const { client } = (window as unknown as { sdk: Sdk }).sdk
    const replica = await client.openReplica({ relays: [args.relay], storage: 'sdk-test' })
    try {
      const handle = await replica.open('browser/sdk-check')
      const text = handle.doc.getText('body')
      if (args.wait === 'durable') await handle.whenSynced({ timeout: 10_000 })
      if (args.insert !== '') text.insert(text.length, args.insert)
      if (args.wait === 'durable') await handle.whenDurable(1, { timeout: 10_000 })
      else await handle.whenDurable(0, { timeout: 10_000 })
      return {
        text: text.toString(),
        copies: handle.copies,
        states: handle.status.relays.map((r) => r.state),
      }
    } finally {
      await replica.close()
    }
  })()
}

describe.skipIf(!chromiumAvailable())('@rhizome/client bundled by Vite, in Chromium', () => {
  let relay: RelayProcess
  let server: PreviewServer
  let browser: BrowserSession
  let node: Replica
  let outDir: string

  beforeAll(async () => {
    requireChromium()
    outDir = await mkdtemp(join(tmpdir(), 'rhizome-sdk-bundle-'))
    // The same bundler and settings an app uses: this fails if the SDK cannot bundle for browsers.
    await build({
      root: FIXTURE,
      configFile: false,
      logLevel: 'warn',
      resolve: { dedupe: ['yjs', 'y-protocols', 'lib0'] },
      build: { outDir, emptyOutDir: true, target: 'es2022' },
    })
    server = await preview({
      root: FIXTURE,
      configFile: false,
      logLevel: 'warn',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0 },
    })
    relay = await startRelay()
    node = await openReplica({ relays: [relay.url], storage: new MemoryLevel() })
    browser = await launchSession({
      ignoreConsole: /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/.*' failed/,
    })
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    await node?.close()
    await server?.close()
    await stopAllRelays()
    if (outDir) await rm(outDir, { recursive: true, force: true })
  }, 30_000)

  it('syncs with a relay both ways, and keeps the document in IndexedDB with the relay down', async () => {
    const fromNode = await node.open(DOC)
    fromNode.doc.getText('body').insert(0, 'from node;')
    await fromNode.whenDurable(1, { timeout: 10_000 })

    const page = browser.page
    const url = server.resolvedUrls?.local[0]
    expect(url).toBeTruthy()
    await page.goto(url!)
    await expect.poll(() => page.evaluate(() => document.body.dataset.ready), POLL).toBe('true')

    // The browser gets the node's edit from the relay, adds its own, and the relay acknowledges it.
    const first = await page.evaluate<PageResult, RoundArgs>(pageRound, {
      relay: relay.url,
      insert: ' from chromium;',
      wait: 'durable',
    })
    expect(first.text).toBe('from node; from chromium;')
    expect(first.copies).toBe(1)
    expect(first.states).toEqual(['synced'])
    await expect.poll(() => fromNode.doc.getText('body').toString(), POLL).toBe('from node; from chromium;')

    // With the relay down, a reload opens the document from IndexedDB (browser-level) and edits offline.
    await relay.kill()
    await page.reload()
    await expect.poll(() => page.evaluate(() => document.body.dataset.ready), POLL).toBe('true')
    const offline = await page.evaluate<PageResult, RoundArgs>(pageRound, {
      relay: relay.url,
      insert: ' offline;',
      wait: 'none',
    })
    expect(offline.text).toBe('from node; from chromium; offline;')
    expect(offline.copies).toBe(0)

    // The relay comes back: the offline edit, stored in IndexedDB only, reaches it and the node.
    await relay.start()
    const back = await page.evaluate<PageResult, RoundArgs>(pageRound, {
      relay: relay.url,
      insert: '',
      wait: 'durable',
    })
    expect(back.text).toBe('from node; from chromium; offline;')
    expect(back.copies).toBe(1)
    await expect
      .poll(() => fromNode.doc.getText('body').toString(), POLL)
      .toBe('from node; from chromium; offline;')
    expect(browser.errors).toEqual([])
  })
})
