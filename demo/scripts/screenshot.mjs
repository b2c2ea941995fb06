#!/usr/bin/env node
// Updates the README screenshot (docs/screenshot.png): starts the demo on free ports with temp
// data, creates 1,000 notes through a relay's HTTP API, has two browsers write a note together,
// kills one relay from the chaos panel, and takes the picture. Needs Debian's chromium (/usr/bin/chromium) and built packages (`pnpm build`).
//   node demo/scripts/screenshot.mjs [--out docs/screenshot.png] [--notes N]
// `--history` pictures the history panel instead: a bad client wipes the note, and its timeline
// (newest first, with a preview of each version) is open beside it.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'
import * as Y from 'yjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/screenshot.png' },
    notes: { type: 'string', default: '1000' },
    history: { type: 'boolean', default: false },
  },
})
const NOTES = Number(values.notes)
const out = resolve(ROOT, values.out)

if (!existsSync(CHROMIUM)) {
  process.stderr.write(`screenshot: ${CHROMIUM} not found (apt-get install chromium)\n`)
  process.exit(1)
}

/** Polls `check` every 100 ms until it returns true; throws after `ms`. */
async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Creates `count` notes on the relay at `httpUrl` with `POST /docs/<name>`, 16 requests at a time. */
async function postNotes(httpUrl, count) {
  const topics = ['Groceries', 'Reading list', 'Standup', 'Ideas', 'Recipes', 'Bugs', 'Garden', 'Travel']
  let next = 1
  const worker = async () => {
    while (next <= count) {
      const i = next++
      const doc = new Y.Doc()
      doc.getText('body').insert(0, `# ${topics[i % topics.length]} #${i}\n\nOne of ${count} notes.`)
      const body = Buffer.from(Y.encodeStateAsUpdate(doc))
      const res = await fetch(`${httpUrl}/docs/demo/notes/bulk-${String(i).padStart(4, '0')}`, {
        method: 'POST',
        body,
      })
      if (!res.ok) throw new Error(`POST answered ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
}

const cleanups = []
async function cleanup() {
  for (const fn of cleanups.reverse()) await fn().catch(() => {})
}

try {
  const dataRoot = await mkdtemp(join(tmpdir(), 'rhizome-screenshot-'))
  cleanups.push(() => rm(dataRoot, { recursive: true, force: true }))
  const demo = spawn(
    process.execPath,
    [join(ROOT, 'demo/scripts/start.mjs'), '--free-ports', '--no-build', '--preview', '--data', dataRoot],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  )
  const exited = new Promise((r) => demo.once('exit', r))
  cleanups.push(async () => {
    try {
      process.kill(-demo.pid, 'SIGTERM')
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-demo.pid, 'SIGKILL')
      } catch {}
    }, 10_000)
    await exited
    clearTimeout(timer)
  })
  const ready = await new Promise((resolveReady, reject) => {
    let buffered = ''
    demo.stdout.setEncoding('utf8').on('data', (s) => {
      buffered += s
      const m = /rhizome-demo ready (\{.*\})\n/.exec(buffered)
      if (m) resolveReady(JSON.parse(m[1]))
    })
    exited.then((code) => reject(new Error(`demo exited with ${code}`)))
  })

  await postNotes(ready.relays[0].replace(/^ws:/, 'http:'), NOTES)

  const session = async (name) => {
    const dir = await mkdtemp(join(tmpdir(), 'rhizome-chromium-'))
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 860 },
    })
    cleanups.push(async () => {
      await context.close()
      await rm(dir, { recursive: true, force: true })
    })
    const page = context.pages()[0] ?? (await context.newPage())
    await page.goto(ready.web)
    await page.getByTestId('user-name').fill(name)
    await page.getByTestId('user-name').press('Enter')
    return page
  }
  const type = async (page, text) => {
    await page.locator('.cm-content').click()
    await page.keyboard.press('Control+End')
    await page.keyboard.type(text, { delay: 2 })
  }

  const ada = await session('Ada')
  await until(
    'every note on the page',
    async () => (await ada.getByTestId('note-item').count()) === NOTES,
    60_000,
  )
  await ada.getByTestId('new-note').click()
  await until('the new note', async () => (await ada.getByTestId('note-title').textContent()) === 'Untitled')
  await type(ada, '# Trip to Lisbon\n\n- Flights: booked, TAP 1234\nHotel: Alfama, 3 nights')
  const grace = await session('Grace')
  const item = grace.getByTestId('note-item').filter({ hasText: 'Trip to Lisbon' })
  await until('the note on the second browser', async () => (await item.count()) === 1)
  await item.click()
  await until('the text on the second browser', async () =>
    ((await grace.locator('.cm-content').textContent()) ?? '').includes('Alfama'),
  )
  await type(grace, '\nDay 2: tram 28, Belém, pastéis')
  await type(ada, '\nMuseums: Gulbenkian')
  if (values.history) {
    await until('three copies', async () => (await ada.getByTestId('copies').textContent()) === '3')
    await ada.getByTestId('wipe-note').click()
    await until(
      'the wipe on the second browser',
      async () => (await grace.getByTestId('note-title').textContent()) === 'Untitled',
    )
    await ada.getByTestId('history-toggle').click()
    await until(
      'the timeline with the version before the wipe',
      async () => (await ada.getByTestId('history-point').filter({ hasText: 'Trip to Lisbon' }).count()) > 0,
    )
    await until(
      'previews',
      async () => !(await ada.getByTestId('history-preview').allInnerTexts()).includes('…'),
    )
  } else {
    await ada.getByTestId('kill-2').click()
    await until(
      'relay-2 offline',
      async () => (await ada.getByTestId('relay-state-2').textContent()) === 'offline',
    )
    await type(ada, ', Tile museum')
    await until('two copies', async () => (await ada.getByTestId('copies').textContent()) === '2')
    await until('the other cursor', async () => (await ada.locator('.cm-ySelectionInfo').count()) > 0)
  }
  await ada.mouse.move(0, 0)
  await mkdir(dirname(out), { recursive: true })
  await ada.screenshot({ path: out })
  process.stdout.write(`screenshot: wrote ${out}\n`)
} catch (err) {
  process.stderr.write(`screenshot: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  await cleanup()
}
