// Table rows and correctness checks of the durable-ACK targets (scenarios/ackTargets.mjs), for report.mjs.

const PUT = 'classic-level put sync:true (same run)'
const YWS = '@y/websocket-server (memory), no ACK'

/**
 * The rows of one run's `ackTargets` scenario, built with report.mjs' `row`; none when it did not
 * run. Each target row compares with the peer or floor measured in the same run.
 */
export function ackTargetsRows(scenario, row) {
  const r = scenario?.results
  if (!r) return []
  const n = scenario.params.pairs
  const ms = { unit: 'ms', digits: 2, better: 'lower' }
  const out = []
  if (r.singleWriter) {
    out.push(
      row('Durable ACK', 'one writer copies=1 p99', r.singleWriter.p99, r.putFloor.p99, PUT, {
        ...ms,
        target: '<= 2x put p99',
        meets: (_ratio, a, b) => a <= 2 * b,
      }),
      row('Durable ACK', 'one writer copies=1 p50', r.singleWriter.p50, r.putFloor.p50, PUT, ms),
    )
  }
  if (r.rhizomeRoundTrips && r.ywsRoundTrips) {
    out.push(
      row(
        'Durable ACK',
        `${n} writer/reader loops, round trips/s (reader has it + ACK)`,
        r.rhizomeRoundTrips.roundTripsPerSecond,
        r.ywsRoundTrips.roundTripsPerSecond,
        `${YWS} (reader has it)`,
        { target: '>= 1x', meets: (ratio) => ratio >= 1 },
      ),
      row(
        'Durable ACK',
        `${n} writer/reader loops, round trip p99`,
        r.rhizomeRoundTrips.p99,
        r.ywsRoundTrips.p99,
        YWS,
        ms,
      ),
    )
  }
  if (r.mesh && r.meshRoundTrip) {
    for (const p of ['p50', 'p99']) {
      const added = r.mesh.copies3[p] - r.mesh.copies1[p]
      const bound = r.meshRoundTrip[p] + r.meshFloor[p]
      out.push(
        row(
          'Durable ACK',
          `copies=3 minus copies=1 ${p} (one writer, 3-relay mesh)`,
          added,
          bound,
          `mesh round trip A->B->A + put ${p} (same mesh)`,
          { ...ms, target: '<= round trip + put', meets: (_ratio, a, b) => a <= b },
        ),
      )
    }
    out.push(
      ...['p50', 'p99'].map((p) =>
        row(
          'Durable ACK',
          `mesh: update on A reaches a reader on B, ${p}`,
          r.meshRoundTrip.oneWay[p],
          null,
          '(measured for the bound above)',
          ms,
        ),
      ),
      row(
        'Durable ACK',
        'copies=3 p99 (one writer, 3-relay mesh)',
        r.mesh.copies3.p99,
        r.mesh.copies1.p99,
        'copies=1 p99, same edits',
        ms,
      ),
    )
  }
  return out
}

/** `[name, ok]` checks: every loop completed without a timeout and measured something. */
export function ackTargetsChecks(scenario) {
  const r = scenario?.results
  if (!r) return []
  const out = []
  if (r.singleWriter)
    out.push(['ack one writer without timeouts', r.singleWriter.timeouts === 0 && r.singleWriter.count > 0])
  for (const k of ['rhizomeRoundTrips', 'ywsRoundTrips']) {
    if (r[k]) out.push([`ack targets ${k} without timeouts`, r[k].timeouts === 0 && r[k].count > 0])
  }
  if (r.mesh)
    out.push(['ack mesh writer without timeouts', r.mesh.timeouts === 0 && r.mesh.copies3.count > 0])
  if (r.meshRoundTrip)
    out.push([
      'mesh round trip without timeouts',
      r.meshRoundTrip.timeouts === 0 && r.meshRoundTrip.count > 0,
    ])
  return out
}
