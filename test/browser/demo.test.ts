import { mkdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { catalogOf } from '../support/catalog.mjs'
import { postNotes } from './support/bulkNotes.js'
import { type BrowserSession, chromiumAvailable, launchSession, requireChromium } from './support/chromium.js'
import { type DemoServer, startDemo } from './support/demoServer.js'
import { relayText, relayTombstones } from './support/relayDocs.js'

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '../artifacts')
/** A WebSocket to a relay the test killed fails by design; Chromium logs that as a console error. */
const EXPECTED_CONSOLE = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/.*' failed/
const POLL = { timeout: 20_000, interval: 100 }
/** Notes created before the big-list test opens its page. */
const BULK = 1000

/** The current editor's text. */
async function editorText(page: Page): Promise<string> {
  return (await page.locator('.cm-content').textContent()) ?? ''
}

/** Types at the end of the current note. */
async function typeAtEnd(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type(text, { delay: 5 })
}

/**
 * The current editor's text exactly (lines joined with newlines, as in the note's Y.Text), without
 * the remote carets y-codemirror.next draws inside the lines.
 */
async function editorLines(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('.cm-content .cm-line'), (line) => {
      const copy = line.cloneNode(true) as HTMLElement
      for (const caret of Array.from(copy.querySelectorAll('.cm-ySelectionCaret'))) caret.remove()
      return copy.textContent ?? ''
    }).join('\n'),
  )
}

async function openNoteTitled(page: Page, title: string): Promise<void> {
  const item = page.getByTestId('note-item').filter({ hasText: title })
  await expect.poll(() => item.count(), POLL).toBe(1)
  await item.click()
  await expect.poll(() => page.getByTestId('note-title').textContent(), POLL).toBe(title)
}

describe.skipIf(!chromiumAvailable())('demo app in Chromium', () => {
  let demo: DemoServer
  const sessions: BrowserSession[] = []
  let a: BrowserSession
  let b: BrowserSession

  const session = async (viewport?: { width: number; height: number }) => {
    const s = await launchSession({ ignoreConsole: EXPECTED_CONSOLE, ...(viewport ? { viewport } : {}) })
    sessions.push(s)
    return s
  }

  beforeAll(async () => {
    requireChromium()
    demo = await startDemo({ preview: true })
  }, 90_000)

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()))
    if (demo) expect(await demo.stop()).toBe(0)
  }, 30_000)

  it('two browsers edit the same note and see each other’s text and cursor', async () => {
    a = await session()
    await a.page.goto(demo.web)
    // A brand-new mesh gets its welcome note once the index synced with the relays.
    await expect.poll(() => a.page.getByTestId('note-item').count(), POLL).toBe(1)
    await a.page.getByTestId('new-note').click()
    await expect.poll(() => a.page.getByTestId('note-title').textContent(), POLL).toBe('Untitled')
    await typeAtEnd(a.page, '# Shopping list\nMilk')
    await expect
      .poll(() => a.page.getByTestId('note-item').filter({ hasText: 'Shopping list' }).count(), POLL)
      .toBe(1)

    b = await session()
    await b.page.goto(demo.web)
    await openNoteTitled(b.page, 'Shopping list')
    await expect.poll(() => editorText(b.page), POLL).toContain('Milk')
    await typeAtEnd(b.page, ' and bread')
    await expect.poll(() => editorText(a.page), POLL).toContain('Milk and bread')

    const nameA = await a.page.getByTestId('user-name').inputValue()
    const nameB = await b.page.getByTestId('user-name').inputValue()
    // Remote carets carry the other user's name (y-codemirror.next, through the handle's awareness).
    await expect.poll(() => a.page.locator('.cm-ySelectionInfo').allInnerTexts(), POLL).toContain(nameB)
    await typeAtEnd(a.page, '.')
    await expect.poll(() => b.page.locator('.cm-ySelectionInfo').allInnerTexts(), POLL).toContain(nameA)
    await expect.poll(() => a.page.getByTestId('presence').textContent(), POLL).toContain(nameB)
  })

  it('a relay killed from the chaos panel: editing goes on, the panel shows it offline, copies drop to 2', async () => {
    await expect.poll(() => a.page.getByTestId('copies').textContent(), POLL).toBe('3')
    await a.page.getByTestId('kill-1').click()
    await expect.poll(() => a.page.getByTestId('relay-state-1').textContent(), POLL).toBe('offline')
    await expect.poll(() => a.page.getByTestId('relay-process-1').textContent(), POLL).toBe('stopped')
    await expect.poll(() => b.page.getByTestId('relay-state-1').textContent(), POLL).toBe('offline')
    // The header counts the replica's sessions: a relay that is down is never "synced".
    await expect.poll(() => a.page.getByTestId('net-pill').textContent(), POLL).toBe('2 of 3 relays synced')

    await typeAtEnd(a.page, ' Eggs')
    await expect.poll(() => editorText(b.page), POLL).toContain('Eggs')
    await expect.poll(() => a.page.getByTestId('copies').textContent(), POLL).toBe('2')
    await expect
      .poll(() => a.page.getByTestId('durability').textContent(), POLL)
      .toMatch(/Saved on this device \+ 2 of 3 relays/)

    await a.page.getByTestId('restart-1').click()
    await expect.poll(() => a.page.getByTestId('relay-state-1').textContent(), POLL).toBe('synced')
    await typeAtEnd(a.page, '!')
    await expect.poll(() => a.page.getByTestId('copies').textContent(), POLL).toBe('3')
  })

  it('cut off the network, edits wait on the device and go out on reconnect', async () => {
    await a.page.getByTestId('cut-network').click()
    for (const n of [1, 2, 3]) {
      await expect.poll(() => a.page.getByTestId(`relay-state-${n}`).textContent(), POLL).toBe('offline')
    }
    await typeAtEnd(a.page, ' Tea')
    await expect.poll(() => a.page.getByTestId('pending').textContent(), POLL).toMatch(/^\d+ edits? waiting/)
    await expect.poll(() => a.page.getByTestId('copies').textContent(), POLL).toBe('0')
    await a.page.getByTestId('cut-network').click()
    await expect.poll(() => a.page.getByTestId('pending').textContent(), POLL).toBe('No edits waiting')
    await expect.poll(() => a.page.getByTestId('copies').textContent(), POLL).toBe('3')
    await expect.poll(() => editorText(b.page), POLL).toContain('Tea')
  })

  it('all relays wiped: the browser refills them, and a fresh browser gets every note back', async () => {
    // Only A's browser may hold the notes now: B leaves first.
    await b.close()
    await a.page.getByTestId('outage').click()
    for (const n of [1, 2, 3]) {
      await expect.poll(() => a.page.getByTestId(`relay-process-${n}`).textContent(), POLL).toBe('stopped')
      await expect.poll(() => a.page.getByTestId(`relay-state-${n}`).textContent(), POLL).toBe('offline')
    }
    await typeAtEnd(a.page, ' (written during the outage)')
    await expect.poll(() => a.page.getByTestId('pending').textContent(), POLL).toMatch(/edits? waiting/)

    await a.page.getByTestId('restart-all').click()
    for (const n of [1, 2, 3]) {
      await expect.poll(() => a.page.getByTestId(`relay-state-${n}`).textContent(), POLL).toBe('synced')
    }
    // Every note is on all three relays again, from this browser's replica: the open one by its
    // ACKs, the other by the relays' catalogs.
    await expect
      .poll(() => a.page.getByTestId('note-item').locator('.copies-chip').allInnerTexts(), POLL)
      .toEqual(['3/3 relays', '3/3 relays'])

    const c = await session({ width: 390, height: 844 })
    await c.page.goto(demo.web)
    await expect.poll(() => c.page.getByTestId('note-item').allInnerTexts(), POLL).toHaveLength(2)
    await openNoteTitled(c.page, 'Welcome to Rhizome')
    await expect.poll(() => editorText(c.page), POLL).toContain('Every relay and every device')
    await openNoteTitled(c.page, 'Shopping list')
    await expect
      .poll(() => editorText(c.page), POLL)
      .toContain('Milk and bread. Eggs! Tea (written during the outage)')
    // Phone width: nothing wider than the screen.
    expect(await c.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

    await mkdir(ARTIFACTS, { recursive: true })
    await a.page.screenshot({ path: join(ARTIFACTS, 'demo-laptop.png'), fullPage: true })
    await c.page.screenshot({ path: join(ARTIFACTS, 'demo-phone.png'), fullPage: true })
    expect((await stat(join(ARTIFACTS, 'demo-laptop.png'))).size).toBeGreaterThan(10_000)
    expect((await stat(join(ARTIFACTS, 'demo-phone.png'))).size).toBeGreaterThan(10_000)

    for (const s of sessions) expect(s.errors).toEqual([])
  })

  it('a bad client wipes a note: the timeline restores the exact text everywhere; Delete removes it from every device and relay', async () => {
    const http = demo.relays.map((u) => u.replace(/^ws:/, 'http:'))
    const text = '# Lab notebook\nSample 7: pH 6.8 at 21 C, stable'
    await a.page.getByTestId('new-note').click()
    await expect.poll(() => a.page.getByTestId('note-title').textContent(), POLL).toBe('Untitled')
    await typeAtEnd(a.page, text)
    await expect.poll(() => editorLines(a.page), POLL).toBe(text)
    await expect.poll(() => a.page.getByTestId('copies').textContent(), POLL).toBe('3')
    const item = a.page.getByTestId('note-item').filter({ hasText: 'Lab notebook' })
    const name = `demo/notes/${await item.getAttribute('data-note-id')}`
    for (const url of http) await expect.poll(() => relayText(url, name), POLL).toBe(text)

    const e = await session()
    await e.page.goto(demo.web)
    await openNoteTitled(e.page, 'Lab notebook')
    await expect.poll(() => editorLines(e.page), POLL).toBe(text)

    // The bad client: every item of the note deleted through A's handle, replicated like an edit.
    await a.page.getByTestId('wipe-note').click()
    await expect.poll(() => editorLines(e.page), POLL).toBe('')
    await expect.poll(() => e.page.getByTestId('note-title').textContent(), POLL).toBe('Untitled')
    for (const url of http) await expect.poll(() => relayText(url, name), POLL).toBe('')

    await a.page.getByTestId('history-toggle').click()
    const points = a.page.getByTestId('history-point')
    // Newest first: the wipe (the current version, empty), then the last version with the text.
    await expect.poll(() => points.first().getByTestId('history-preview').textContent(), POLL).toBe('(empty)')
    const before = points.filter({ hasText: 'Lab notebook · Sample 7: pH 6.8 at 21 C, stable' }).first()
    await expect.poll(() => before.count(), POLL).toBe(1)
    await before.getByTestId('restore-version').click()
    await expect
      .poll(() => a.page.getByTestId('history-message').textContent(), POLL)
      .toMatch(/^Restored the version of/)
    await expect.poll(() => editorLines(a.page), POLL).toBe(text)
    await expect.poll(() => editorLines(e.page), POLL).toBe(text)
    for (const url of http) await expect.poll(() => relayText(url, name), POLL).toBe(text)
    await expect.poll(() => e.page.getByTestId('note-title').textContent(), POLL).toBe('Lab notebook')

    await a.page.getByTestId('delete-note').click()
    await a.page.getByTestId('delete-note-confirm').click()
    for (const page of [a.page, e.page]) {
      await expect
        .poll(() => page.getByTestId('note-item').filter({ hasText: 'Lab notebook' }).count(), POLL)
        .toBe(0)
      await expect.poll(() => page.getByTestId('note-title').textContent(), POLL).not.toBe('Lab notebook')
    }
    for (const url of http) {
      await expect.poll(async () => (await catalogOf(url)).has(name), POLL).toBe(false)
      await expect.poll(() => relayTombstones(url), POLL).toContain(name)
      expect(await relayText(url, name)).toBeNull()
    }
    expect(a.errors).toEqual([])
    expect(e.errors).toEqual([])
  }, 90_000)

  it(`${BULK} notes: one WebSocket per relay, none failed, every note on 3/3 relays, the editor binding live`, async () => {
    const http = demo.relays.map((u) => u.replace(/^ws:/, 'http:'))
    // Written through relay 1's HTTP API; the mesh carries them to the other two.
    await postNotes(http[0]!, BULK)
    const total = BULK + 2
    const noteDigests = async (url: string) =>
      [...(await catalogOf(url))].filter(([name]) => name.startsWith('demo/notes/'))
    const catalogs = () => Promise.all(http.map(noteDigests))
    await expect
      .poll(async () => (await catalogs()).map((c) => c.length), { timeout: 60_000, interval: 500 })
      .toEqual([total, total, total])
    await expect
      .poll(async () => new Set((await catalogs()).map((c) => JSON.stringify(c))).size, POLL)
      .toBe(1)

    // A fresh browser, no expected failures: every console error counts.
    const d = await launchSession()
    sessions.push(d)
    const sockets: string[] = []
    const failures: string[] = []
    d.page.on('websocket', (ws) => {
      sockets.push(ws.url())
      ws.on('socketerror', (err) => failures.push(`socketerror ${ws.url()}: ${err}`))
    })
    d.page.on('requestfailed', (req) =>
      failures.push(`requestfailed ${req.url()}: ${req.failure()?.errorText}`),
    )
    d.page.on('console', (msg) => {
      if (/WebSocket|Insufficient resources/i.test(msg.text())) failures.push(`console: ${msg.text()}`)
    })
    await d.page.goto(demo.web)
    const fullChips = () =>
      d.page.evaluate(
        () =>
          Array.from(document.querySelectorAll('.copies-chip')).filter((c) => c.textContent === '3/3 relays')
            .length,
      )
    const slow = { timeout: 60_000, interval: 500 }
    await expect.poll(() => d.page.getByTestId('note-item').count(), slow).toBe(total)
    await expect.poll(() => d.page.getByTestId('note-count').textContent(), POLL).toBe(String(total))
    await expect.poll(fullChips, slow).toBe(total)
    await expect.poll(() => d.page.getByTestId('net-pill').textContent(), POLL).toBe('3 of 3 relays synced')

    // The CodeMirror binding (y-codemirror.next) in both directions, on a note A never opened.
    await openNoteTitled(d.page, 'Bulk note 0421')
    await typeAtEnd(d.page, ' typed in D')
    await openNoteTitled(a.page, 'Bulk note 0421')
    await expect.poll(() => editorText(a.page), POLL).toContain('typed in D')
    await typeAtEnd(a.page, ' and in A')
    await expect.poll(() => editorText(d.page), POLL).toContain('typed in D and in A')

    const perRelay = new Map<string, number>()
    for (const url of sockets) perRelay.set(new URL(url).host, (perRelay.get(new URL(url).host) ?? 0) + 1)
    expect([...perRelay.keys()].sort()).toEqual(demo.relays.map((u) => new URL(u).host).sort())
    expect([...perRelay.values()]).toEqual([1, 1, 1])
    expect(failures).toEqual([])
    expect(d.errors).toEqual([])
  }, 150_000)
})
