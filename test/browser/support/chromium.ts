import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

/** Debian's Chromium (`apt-get install chromium`); a test tool never downloads a browser here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Flags for a closed network: no background requests to Google's services, which this machine
 * refuses, and no sandbox (tests run as root).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/**
 * Whether browser tests run: skipped with a notice when Chromium is missing, except in CI
 * (`CI=true`), where a missing browser is a failure (see {@link requireChromium}).
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') return true // requireChromium() fails the suite
  process.stderr.write(
    `notice: ${CHROMIUM} not found, skipping browser tests (install it with: apt-get install chromium)\n`,
  )
  return false
}

/** Throws when Chromium is missing: in CI the browser tests must run. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; CI must install chromium (see .ci/run)`)
}

/** A browser context with its own fresh `--user-data-dir` (own IndexedDB, own localStorage). */
export interface BrowserSession {
  context: BrowserContext
  page: Page
  /** Console errors and uncaught exceptions seen on the page. */
  errors: string[]
  close(): Promise<void>
}

/**
 * Launches Chromium headless with a fresh user-data-dir. `ignoreConsole` filters console errors
 * the test expects (a WebSocket to a relay the test killed fails by design).
 */
export async function launchSession(
  options: { viewport?: { width: number; height: number }; ignoreConsole?: RegExp } = {},
): Promise<BrowserSession> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'rhizome-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1400, height: 900 },
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    if (options.ignoreConsole?.test(msg.text())) return
    errors.push(`console.error: ${msg.text()}`)
  })
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`))
  let closed = false
  return {
    context,
    page,
    errors,
    async close() {
      if (closed) return
      closed = true
      await context.close().catch(() => {})
      await rm(userDataDir, { recursive: true, force: true })
    },
  }
}
