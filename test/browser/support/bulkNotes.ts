import * as Y from 'yjs'

/** Requests in flight at once: enough to fill the relay's group commits, few enough for 2 cores. */
const CONCURRENCY = 16

/** The text of bulk note `i` (1-based): its title is `Bulk note 0001` and so on. */
export function bulkNoteText(i: number): string {
  return `# Bulk note ${String(i).padStart(4, '0')}\n\nWritten through the HTTP API.`
}

/**
 * Creates `count` demo notes (`demo/notes/bulk-0001`...) on the relay at `httpUrl` through
 * `POST /docs/<name>` (docs/PROTOCOL.md section 10); resolves once each is durable there.
 * @throws Error when the relay answers anything but 200.
 */
export async function postNotes(httpUrl: string, count: number): Promise<void> {
  let next = 1
  const worker = async () => {
    while (next <= count) {
      const i = next++
      const doc = new Y.Doc()
      doc.getText('body').insert(0, bulkNoteText(i))
      const body = Y.encodeStateAsUpdate(doc)
      doc.destroy()
      const name = `demo/notes/bulk-${String(i).padStart(4, '0')}`
      const res = await fetch(`${httpUrl}/docs/${name}`, { method: 'POST', body: Buffer.from(body) })
      if (!res.ok) throw new Error(`POST /docs/${name} answered ${res.status}: ${await res.text()}`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}
