import * as Y from 'yjs'

/**
 * The text (`body` Y.Text) of document `name` as the relay at `httpUrl` holds it
 * (`GET /docs/<name>`, docs/PROTOCOL.md section 10, decoded with yjs); null when it answers 404.
 * @throws Error for any other answer.
 */
export async function relayText(httpUrl: string, name: string): Promise<string | null> {
  const res = await fetch(`${httpUrl}/docs/${name}`)
  if (res.status === 404) return null
  if (!res.ok) throw new Error(`GET /docs/${name} answered ${res.status}`)
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()))
    return doc.getText('body').toString()
  } finally {
    doc.destroy()
  }
}

/**
 * Names of the relay's tombstones (`GET /docs?deleted=1`, docs/PROTOCOL.md section 9), first page
 * of up to 1000 (the tests delete a handful).
 * @throws Error when the relay does not answer 200.
 */
export async function relayTombstones(httpUrl: string): Promise<string[]> {
  const res = await fetch(`${httpUrl}/docs?deleted=1&limit=1000`)
  if (!res.ok) throw new Error(`/docs?deleted=1 answered ${res.status}`)
  const body = (await res.json()) as { docs: { name: string; deleted: boolean }[] }
  return body.docs.filter((d) => d.deleted).map((d) => d.name)
}
