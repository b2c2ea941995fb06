// Table rows and correctness checks of the HTTP API scenario (scenarios/httpApi.mjs), for report.mjs.

const FLOOR = 'classic-level put sync:true, same size'
const NO_WEBHOOK_PEER = '(no peer with webhooks installed here)'

/**
 * The rows of one run's `httpApi` scenario, built with report.mjs' `row`; none when it did not run.
 * Rows without a peer figure name why in the "Compared with" cell.
 */
export function httpApiRows(scenario, row) {
  const r = scenario?.results
  if (!r?.closed) return []
  const n = scenario.params.writers
  const ms = (digits) => ({ unit: 'ms', digits, better: 'lower' })
  const out = [
    row(
      'HTTP API',
      `POST /docs copies=1 p50 (${n} writers)`,
      r.closed.p50,
      r.floorSequential.p50,
      `${FLOOR} (sequential)`,
      ms(2),
    ),
    row(
      'HTTP API',
      `POST /docs copies=1 p99 (${n} writers)`,
      r.closed.p99,
      r.floorSequential.p99,
      `${FLOOR} (sequential)`,
      ms(2),
    ),
    row(
      'HTTP API',
      `POST /docs copies=1 p99 (${n} writers)`,
      r.closed.p99,
      r.floorConcurrent.p99,
      `${FLOOR} (${n} concurrent)`,
      ms(2),
    ),
    row(
      'HTTP API',
      `POST /docs requests/s (${n} writers, keep-alive)`,
      r.closed.requestsPerSecond,
      null,
      `y-sweet-style HTTP writes: ${r.peer}`,
    ),
  ]
  const h = r.hooked
  const p = r.plain
  if (!h || !p) return out
  const load = `${scenario.params.rate.toLocaleString('en-US')} changes/s over ${scenario.params.rateDocs.toLocaleString('en-US')} docs`
  out.push(
    row(
      'Webhooks',
      `delivery latency p50 after the ACK (${load}; includes the 1 s debounce)`,
      h.latencyFromAck.p50,
      null,
      NO_WEBHOOK_PEER,
      ms(0),
    ),
    row('Webhooks', 'delivery latency p99 after the ACK', h.latencyFromAck.p99, null, NO_WEBHOOK_PEER, ms(0)),
    row(
      'Webhooks',
      'delivery latency p50 after the POST was sent',
      h.latencyFromSend.p50,
      null,
      NO_WEBHOOK_PEER,
      ms(0),
    ),
    row(
      'Webhooks',
      'delivery latency p99 after the POST was sent',
      h.latencyFromSend.p99,
      null,
      NO_WEBHOOK_PEER,
      ms(0),
    ),
    row('Webhooks', 'deliveries/s received', h.deliveriesPerSecond, null, NO_WEBHOOK_PEER),
    row(
      'Webhooks',
      `POSTs/s answered of ${scenario.params.rate.toLocaleString('en-US')} offered, with --webhook`,
      h.achievedPerSecond,
      p.achievedPerSecond,
      'same load, relay without --webhook',
    ),
    row(
      'Webhooks',
      'POST ACK p50 under that load, with --webhook',
      h.ack.p50,
      p.ack.p50,
      'same load, relay without --webhook',
      ms(1),
    ),
    row(
      'Webhooks',
      'POST ACK p99 under that load, with --webhook',
      h.ack.p99,
      p.ack.p99,
      'same load, relay without --webhook',
      ms(1),
    ),
  )
  return out
}

/** `[name, passed]` checks of the scenario: every POST answered durable, GET reads back, every change announced with a valid signature. */
export function httpApiChecks(scenario) {
  const r = scenario?.results
  if (!r?.closed) return []
  return [['http api writes, read-back and webhooks', r.correct === true]]
}

/** The scenario's chart as report.mjs' `[id, title, unit, bars]`, or null when it did not run. */
export function httpApiChart(scenario) {
  const r = scenario?.results
  if (!r?.closed) return null
  const bars = [
    { label: 'Rhizome POST /docs p50', value: r.closed.p50 },
    { label: 'Rhizome POST /docs p99', value: r.closed.p99 },
    { label: 'sync put floor p99 (sequential)', value: r.floorSequential.p99 },
    { label: `sync put floor p99 (${scenario.params.writers} concurrent)`, value: r.floorConcurrent.p99 },
  ]
  if (r.plain && r.hooked) {
    bars.push(
      { label: 'Rhizome 1,000/s ACK p99', value: r.plain.ack.p99 },
      { label: 'Rhizome 1,000/s ACK p99, --webhook', value: r.hooked.ack.p99 },
    )
  }
  return ['http-api', 'HTTP document API: POST /docs round trip', 'ms, lower is better', bars]
}
