// A relay's /docs catalog (PROTOCOL.md section 1) as a map name -> digest, following every page.
export async function catalogOf(httpUrl) {
  const out = new Map()
  let after = null
  do {
    const q = after === null ? '' : `&after=${encodeURIComponent(after)}`
    const res = await fetch(`${httpUrl}/docs?limit=1000${q}`)
    if (!res.ok) throw new Error(`/docs answered ${res.status}`)
    const body = await res.json()
    for (const d of body.docs) out.set(d.name, d.digest)
    after = body.next
  } while (after !== null)
  return out
}
