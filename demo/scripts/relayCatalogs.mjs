/** Page size asked of a relay's `GET /docs` (its maximum, docs/PROTOCOL.md section 1). */
const PAGE = 1000
/** A relay that does not answer within this is reported as holding nothing. */
const TIMEOUT_MS = 2000

/**
 * The `/docs` catalog of one relay (docs/PROTOCOL.md section 1), names starting with `prefix` only:
 * `{ name: digest }`, or null when the relay does not answer. Pages through `after`/`next`; the
 * catalog is sorted by name, so paging stops past the prefix.
 * @param {string} httpUrl relay base URL, http://host:port
 * @param {string} prefix
 * @returns {Promise<Record<string, string | null> | null>}
 */
export async function fetchRelayCatalog(httpUrl, prefix) {
  /** @type {Record<string, string | null>} */
  const digests = {}
  // Start just before the prefix: names sort bytewise, and '' sorts before every name.
  let after =
    prefix === '' ? null : prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) - 1)
  try {
    for (;;) {
      const query = new URLSearchParams({ limit: String(PAGE) })
      if (after !== null) query.set('after', after)
      const res = await fetch(`${httpUrl}/docs?${query}`, { signal: AbortSignal.timeout(TIMEOUT_MS) })
      if (!res.ok) return null
      /** @type {{ docs: { name: string, digest: string | null }[], next: string | null }} */
      const page = await res.json()
      for (const d of page.docs) {
        if (d.name.startsWith(prefix)) digests[d.name] = d.digest
        else if (d.name > prefix) return digests
      }
      if (page.next === null) return digests
      after = page.next
    }
  } catch {
    return null
  }
}

/**
 * Catalogs of every relay the supervisor runs (null for one that is down or does not answer), so
 * the app can tell per note how many relay stores hold exactly its local state.
 * @param {{ relays: { n: number, url: string, httpUrl: string, state: string }[] }} supervisor
 * @param {string} prefix
 */
export async function relayCatalogs(supervisor, prefix) {
  return Promise.all(
    supervisor.relays.map(async (r) => ({
      n: r.n,
      url: r.url,
      digests: r.state === 'running' ? await fetchRelayCatalog(r.httpUrl, prefix) : null,
    })),
  )
}
