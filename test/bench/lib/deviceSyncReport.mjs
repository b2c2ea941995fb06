// Table rows and correctness checks of the device-sync scenario (scenarios/deviceSync.mjs), with the
// targets of issue "3/6 Whole replicas on every device". `row` is report.mjs' row builder, passed
// in so that this module does not import report.mjs (which imports this one).
import { LABEL } from './servers.mjs'

const PEERS = ['hocuspocus', 'yws-leveldb']

function peerName(kind, docs) {
  const n = docs.toLocaleString('en-US')
  return kind === 'hocuspocus'
    ? `${LABEL[kind]}: ${n} HocuspocusProviders on 1 socket`
    : `${LABEL[kind]}: ${n} WebsocketProviders`
}

/** The scenario's rows: Rhizome's device against each peer client, targets on the ones that have one. */
export function deviceSyncRows(scenario, row) {
  const out = []
  const r = scenario?.results
  if (!r?.rhizome) return out
  const me = r.rhizome
  const S = 'Device sync'
  const docs = me.docs.toLocaleString('en-US')
  const kb = (b) => b / 1024
  for (const k of PEERS.filter((p) => r[p])) {
    const isHp = k === 'hocuspocus'
    out.push(
      row(
        S,
        `first full replica, ${docs} docs (3 relays)`,
        me.firstMs,
        r[k].firstMs,
        peerName(k, r[k].docs),
        {
          unit: 'ms',
          better: 'lower',
          target: isHp ? '>= 5x faster' : null,
          meets: isHp ? (ratio) => ratio >= 5 : null,
        },
      ),
    )
  }
  for (const k of PEERS.filter((p) => r[p])) {
    // Each stock client re-syncs every document when it reconnects: that is the figure to beat.
    const isYws = k === 'yws-leveldb'
    out.push(
      row(
        S,
        'catch-up bytes after 10 docs changed offline',
        kb(me.catchUpBytes),
        kb(r[k].catchUpBytes),
        peerName(k, r[k].docs),
        {
          unit: 'KB',
          digits: 1,
          better: 'lower',
          target: isYws ? '>= 100x fewer than re-syncing every doc' : null,
          meets: isYws ? (ratio) => ratio >= 100 : null,
        },
      ),
    )
  }
  for (const k of PEERS.filter((p) => r[p])) {
    out.push(
      row(
        S,
        'catch-up time after 10 docs changed offline',
        me.catchUpMs,
        r[k].catchUpMs,
        peerName(k, r[k].docs),
        {
          unit: 'ms',
          better: 'lower',
        },
      ),
    )
    out.push(
      row(S, 'first full replica: bytes', kb(me.firstBytes), kb(r[k].firstBytes), peerName(k, r[k].docs), {
        unit: 'KB',
        better: 'lower',
      }),
    )
    out.push(
      row(
        S,
        'server CPU time during first sync (Rhizome: 3 relays)',
        me.serverCpuSeconds,
        r[k].serverCpuSeconds,
        peerName(k, r[k].docs),
        {
          unit: 's',
          digits: 2,
          better: 'lower',
        },
      ),
    )
  }
  out.push(
    row(S, 'device RSS over an empty replica', me.rssOverEmptyMB, null, '(device with an empty replica)', {
      unit: 'MB',
      digits: 1,
      better: 'lower',
      target: '<= 100 MB',
      meets: (_ratio, a) => a <= 100,
    }),
  )
  for (const k of PEERS.filter((p) => r[p])) {
    out.push(
      row(
        S,
        'device RSS over its empty process',
        me.rssOverEmptyMB,
        r[k].rssOverEmptyMB,
        peerName(k, r[k].docs),
        {
          unit: 'MB',
          digits: 1,
          better: 'lower',
        },
      ),
    )
  }
  return out
}

/** `[name, passed]` per device: every document arrived and every offline change was caught up. */
export function deviceSyncChecks(scenario) {
  return Object.entries(scenario?.results ?? {}).map(([k, r]) => [`device sync ${k}`, r.correct])
}
