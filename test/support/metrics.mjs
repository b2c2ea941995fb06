// @ts-check
// Reading a relay's Prometheus metrics in tests and benchmarks.

/**
 * The value of one sample line of `GET /metrics` (the metric name with its labels, as printed),
 * 0 when absent.
 * @param {string} httpUrl the relay's `http://host:port`
 * @param {string} line e.g. `rhizome_connections` or `rhizome_socket_closes_total{code="4500"}`
 * @param {string} [token] admin token, when the relay has an auth secret
 * @returns {Promise<number>}
 */
export async function metric(httpUrl, line, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : undefined
  const text = await (await fetch(`${httpUrl}/metrics`, { headers })).text()
  const found = text.split('\n').find((l) => l.startsWith(`${line} `))
  return found ? Number(found.slice(line.length + 1)) : 0
}
