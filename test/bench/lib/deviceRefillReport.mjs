// Table row and correctness check of the device-refill scenario (scenarios/deviceRefill.mjs), with
// the target of issue "5/6 Recovery and durability at disk speed". `row` is report.mjs' row builder,
// passed in so that this module does not import report.mjs (which imports this one).

/**
 * The scenario's rows: refill time against its target (no peer figure: no peer server's clients
 * refill a wiped server), and the bytes the device sent.
 */
export function deviceRefillRows(scenario, row) {
  const me = scenario?.results?.rhizome
  if (!me) return []
  const S = 'Device refill'
  const docs = me.docs.toLocaleString('en-US')
  const target = scenario.params.targetMs
  return [
    row(S, `3 wiped relays refilled from a device, ${docs} docs`, me.refillMs, null, '(no peer refills)', {
      unit: 'ms',
      better: 'lower',
      target: `<= ${(target / 1000).toLocaleString('en-US')} s`,
      meets: (_ratio, a) => a <= target,
    }),
    row(S, '  bytes the device sent', me.bytesOut / 1024, null, '(no peer refills)', {
      unit: 'KB',
      better: 'lower',
    }),
  ]
}

/** `[name, passed]`: the relays started empty and each ended with the device's exact catalog. */
export function deviceRefillChecks(scenario) {
  const me = scenario?.results?.rhizome
  return me ? [['device refill catalogs equal', me.correct]] : []
}
