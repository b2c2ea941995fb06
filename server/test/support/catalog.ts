/** One `/docs` entry. */
export interface CatalogEntry {
  name: string
  digest: string | null
  bytes: number
}

/** Every document of a relay's `/docs` catalog, following `next` across pages. */
export async function catalog(httpUrl: string, token?: string): Promise<Map<string, CatalogEntry>> {
  const out = new Map<string, CatalogEntry>()
  let after: string | null = null
  do {
    const q: string = after === null ? '' : `&after=${encodeURIComponent(after)}`
    const res = await fetch(`${httpUrl}/docs?limit=1000${q}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    if (!res.ok) throw new Error(`/docs answered ${res.status}`)
    const body = (await res.json()) as { docs: CatalogEntry[]; next: string | null }
    for (const d of body.docs) out.set(d.name, d)
    after = body.next
  } while (after !== null)
  return out
}
