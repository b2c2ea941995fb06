// @ts-check
// A relay's `GET /docs` catalog (docs/PROTOCOL.md section 1), read page by page. Plain JavaScript
// with JSDoc types because the benchmarks (plain Node 20) share it; `tsc -p tsconfig.test.json`
// type-checks it.

/**
 * One `/docs` entry.
 * @typedef {{ name: string, digest: string | null, bytes: number }} CatalogEntry
 */

/**
 * Every document of a relay's `/docs` catalog, following `next` across pages of 1000.
 * @param {string} httpUrl the relay's `http://host:port`
 * @param {string} [token] sent as `Authorization: Bearer` (an admin token, when the relay has auth)
 * @returns {Promise<Map<string, CatalogEntry>>} by document name, in catalog (name) order
 * @throws {Error} when a page does not answer 200
 */
export async function catalog(httpUrl, token) {
  /** @type {Map<string, CatalogEntry>} */
  const out = new Map()
  /** @type {string | null} */
  let after = null
  do {
    const q = after === null ? '' : `&after=${encodeURIComponent(after)}`
    const res = await fetch(`${httpUrl}/docs?limit=1000${q}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    if (!res.ok) throw new Error(`/docs answered ${res.status}`)
    const body = /** @type {{ docs: CatalogEntry[], next: string | null }} */ (await res.json())
    for (const d of body.docs) out.set(d.name, d)
    after = body.next
  } while (after !== null)
  return out
}

/**
 * The relay's catalog as a map name -> digest (`null` where the relay holds no trustworthy digest: a corrupt document).
 * @param {string} httpUrl
 * @param {string} [token]
 * @returns {Promise<Map<string, string | null>>}
 * @throws {Error} when a page does not answer 200
 */
export async function catalogOf(httpUrl, token) {
  /** @type {Map<string, string | null>} */
  const out = new Map()
  for (const [name, entry] of await catalog(httpUrl, token)) out.set(name, entry.digest)
  return out
}
