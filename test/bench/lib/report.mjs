// Turns a run into test/bench/results/<date>.json, latest.json, latest.md (the table) and SVG charts.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ackTargetsChecks, ackTargetsRows } from './ackTargetsReport.mjs'
import { deviceRefillChecks, deviceRefillRows } from './deviceRefillReport.mjs'
import { deviceSyncChecks, deviceSyncRows } from './deviceSyncReport.mjs'
import { httpApiChart, httpApiChecks, httpApiRows } from './httpApiReport.mjs'
import { LABEL } from './servers.mjs'

const fmt = (v, digits = 0) =>
  v === undefined || v === null || Number.isNaN(v)
    ? 'n/a'
    : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** One table row: Rhizome's figure, a peer's figure from the same run, their ratio and the target. */
function row(
  scenario,
  metric,
  rhizome,
  peer,
  peerName,
  { unit = '', digits = 0, better = 'higher', target = null, meets = null } = {},
) {
  let ratio = null
  if (typeof rhizome === 'number' && typeof peer === 'number' && rhizome > 0 && peer > 0) {
    ratio = better === 'higher' ? rhizome / peer : peer / rhizome
  }
  return {
    scenario,
    metric,
    unit,
    rhizome,
    peer,
    peerName,
    ratio,
    better,
    target,
    met: meets ? meets(ratio, rhizome, peer) : null,
    digits,
  }
}

/** Every comparison of the run, with the targets of issue 9. */
export function rows(report) {
  const out = []
  const s = report.scenarios
  const peers = ['yws-leveldb', 'yws', 'hocuspocus']
  if (s.fanout) {
    const r = s.fanout.results
    for (const p of peers) {
      if (!r[p] || !r.rhizome) continue
      const isTarget = p === 'yws-leveldb'
      out.push(
        row(
          'Fan-out',
          'updates/s delivered to all readers',
          r.rhizome.updatesPerSecond,
          r[p].updatesPerSecond,
          LABEL[p],
          {
            target: isTarget ? '>= 1.5x' : null,
            meets: isTarget ? (ratio) => ratio >= 1.5 : null,
          },
        ),
      )
    }
    for (const p of peers) {
      if (!r[p] || !r.rhizome) continue
      out.push(
        row('Fan-out', 'latency p50', r.rhizome.latencyMs.p50, r[p].latencyMs.p50, LABEL[p], {
          unit: 'ms',
          digits: 1,
          better: 'lower',
        }),
      )
      out.push(
        row('Fan-out', 'latency p99', r.rhizome.latencyMs.p99, r[p].latencyMs.p99, LABEL[p], {
          unit: 'ms',
          digits: 1,
          better: 'lower',
        }),
      )
      out.push(
        row('Fan-out', 'server CPU', r.rhizome.server.cpuPercent, r[p].server.cpuPercent, LABEL[p], {
          unit: '%',
          better: 'lower',
        }),
      )
      out.push(
        row('Fan-out', 'server peak RSS', r.rhizome.server.maxRssMB, r[p].server.maxRssMB, LABEL[p], {
          unit: 'MB',
          better: 'lower',
        }),
      )
    }
  }
  if (s.manyRooms) {
    const r = s.manyRooms.results
    for (const p of peers) {
      if (!r[p] || !r.rhizome) continue
      out.push(row('Many rooms', 'updates/s held at p99 <= 50 ms', r.rhizome.maxRate, r[p].maxRate, LABEL[p]))
      out.push(
        row(
          'Many rooms',
          'RSS per active doc (3 clients)',
          r.rhizome.rssPerActiveDocKB,
          r[p].rssPerActiveDocKB,
          LABEL[p],
          { unit: 'KB', better: 'lower' },
        ),
      )
    }
  }
  if (s.coldLoad) {
    const r = s.coldLoad.results
    for (const p of ['yws-leveldb', 'hocuspocus']) {
      if (!r[p] || !r.rhizome) continue
      const isTarget = p === 'yws-leveldb'
      out.push(
        row('Cold load', 'new client synced after cold start', r.rhizome.loadMs, r[p].loadMs, LABEL[p], {
          unit: 'ms',
          better: 'lower',
          target: isTarget ? '>= 10x faster' : null,
          meets: isTarget ? (ratio) => ratio >= 10 : null,
        }),
      )
      out.push(
        row('Cold load', 'server peak RSS', r.rhizome.peakRssMB, r[p].peakRssMB, LABEL[p], {
          unit: 'MB',
          better: 'lower',
        }),
      )
      out.push(
        row('Cold load', 'worst event-loop delay', r.rhizome.eventLoopMaxMs, r[p].eventLoopMaxMs, LABEL[p], {
          unit: 'ms',
          better: 'lower',
        }),
      )
    }
    const st = s.coldLoad.storage
    if (st?.rhizome && st['y-leveldb']) {
      out.push(
        row(
          'Cold load',
          'storage only: load the document',
          st.rhizome.loadMs,
          st['y-leveldb'].loadMs,
          'y-leveldb getYDoc',
          {
            unit: 'ms',
            better: 'lower',
            target: '>= 10x faster',
            meets: (ratio) => ratio >= 10,
          },
        ),
      )
    }
  }
  if (s.ackLatency?.results.copies1) {
    const r = s.ackLatency.results
    out.push(
      row(
        'Durable ACK',
        'copies=1 p99',
        r.copies1.p99,
        r.floorSequential.p99,
        'classic-level batch sync:true (sequential)',
        {
          unit: 'ms',
          digits: 2,
          better: 'lower',
          target: '<= 2x floor',
          meets: (_ratio, a, b) => a <= 2 * b,
        },
      ),
    )
    out.push(
      row(
        'Durable ACK',
        'copies=1 p50',
        r.copies1.p50,
        r.floorSequential.p50,
        'classic-level batch sync:true (sequential)',
        { unit: 'ms', digits: 2, better: 'lower' },
      ),
    )
    out.push(
      row(
        'Durable ACK',
        'copies=1 p99',
        r.copies1.p99,
        r.floorConcurrent.p99,
        'classic-level batch sync:true (100 concurrent)',
        { unit: 'ms', digits: 2, better: 'lower' },
      ),
    )
    if (r.copies3) {
      out.push(
        row(
          'Durable ACK',
          'copies=3 p50 (3-relay mesh)',
          r.copies3.p50,
          r.floorSequential.p50,
          'classic-level batch sync:true (sequential)',
          { unit: 'ms', digits: 2, better: 'lower' },
        ),
      )
      out.push(
        row(
          'Durable ACK',
          'copies=3 p99 (3-relay mesh)',
          r.copies3.p99,
          r.floorSequential.p99,
          'classic-level batch sync:true (sequential)',
          { unit: 'ms', digits: 2, better: 'lower' },
        ),
      )
    }
  }
  out.push(...ackTargetsRows(s.ackTargets, row))
  if (s.recovery) {
    const r = s.recovery.results
    const what = `${fmt(s.recovery.params.docs)} docs (${fmt(s.recovery.params.bytesOnDisk / 2 ** 20)} MB)`
    const targetMs = r.targetMs
    out.push(
      row(
        'Recovery',
        `empty relay refills ${what} from one peer`,
        r.recoveryMs,
        r.cpMs,
        'cp -r of the data dir',
        {
          unit: 'ms',
          better: 'lower',
          target: `<= ${fmt(targetMs)} ms (50 MB/s)`,
          meets: (_ratio, a) => a <= targetMs,
        },
      ),
    )
    if (r.threePeersMs !== undefined) {
      out.push(
        row(
          'Recovery',
          `empty relay refills ${what} from three peers at once`,
          r.threePeersMs,
          r.recoveryMs,
          'the same refill from one peer',
          {
            unit: 'ms',
            better: 'lower',
            target: 'no slower than one peer',
            meets: (_ratio, a, b) => a <= b,
          },
        ),
      )
    }
  }
  if (s.startup?.results.large) {
    const r = s.startup.results
    const p = s.startup.params
    out.push(
      row(
        'Start-up',
        `/healthz after start over ${fmt(p.large)} stored docs (median of ${p.starts})`,
        r.large.medianMs,
        r.small.medianMs,
        `the same relay over ${fmt(p.small)} docs`,
        {
          unit: 'ms',
          better: 'lower',
          target: '<= 1.5x the small store',
          meets: (_ratio, a, b) => a <= 1.5 * b,
        },
      ),
    )
  }
  out.push(...deviceSyncRows(s.deviceSync, row))
  out.push(...deviceRefillRows(s.deviceRefill, row))
  if (s.idleDocs) {
    const r = s.idleDocs.results
    const p = s.idleDocs.params
    if (r.rhizome) {
      out.push(
        row(
          'Idle docs',
          `RSS cost of ${fmt(p.storedDocs)} stored idle docs`,
          r.rhizome.idleCostMB,
          null,
          '(relay with an empty store)',
          {
            unit: 'MB',
            digits: 1,
            better: 'lower',
            target: '<= 20 MB, mapped files included',
            meets: (_ratio, a) => a <= 20,
          },
        ),
      )
      out.push(
        row(
          'Idle docs',
          `  of which anonymous (heap), not mapped files`,
          r.rhizome.idleAnonCostMB,
          null,
          '(relay with an empty store)',
          {
            unit: 'MB',
            digits: 1,
            better: 'lower',
          },
        ),
      )
      if (r.rhizome.afterScrubCostMB !== undefined) {
        out.push(
          row(
            'Idle docs',
            `  the same after a background scrub pass read every record`,
            r.rhizome.afterScrubCostMB,
            null,
            '(relay with an empty store)',
            {
              unit: 'MB',
              digits: 1,
              better: 'lower',
              target: '<= 20 MB, mapped files included',
              meets: (_ratio, a) => a <= 20,
            },
          ),
        )
        out.push(
          row(
            'Idle docs',
            `    of which anonymous`,
            r.rhizome.afterScrubAnonCostMB,
            null,
            '(relay with an empty store)',
            {
              unit: 'MB',
              digits: 1,
              better: 'lower',
            },
          ),
        )
      }
    }
    for (const k of ['yws-leveldb', 'hocuspocus']) {
      if (!r[k] || !r.rhizome) continue
      out.push(
        row(
          'Idle docs',
          `RSS per active doc (${fmt(p.activeDocs)} active)`,
          r.rhizome.perActiveDocKB,
          r[k].perActiveDocKB,
          LABEL[k],
          { unit: 'KB', better: 'lower' },
        ),
      )
    }
  }
  out.push(...httpApiRows(s.httpApi, row))
  return out
}

/** True when every correctness check recorded by the scenarios passed. */
export function correctness(report) {
  const checks = []
  const s = report.scenarios
  for (const [k, r] of Object.entries(s.fanout?.results ?? {})) checks.push([`fan-out ${k}`, r.correct])
  for (const [k, r] of Object.entries(s.coldLoad?.results ?? {})) checks.push([`cold load ${k}`, r.correct])
  for (const [k, r] of Object.entries(s.coldLoad?.storage ?? {}))
    checks.push([`cold load storage ${k}`, r.correct])
  if (s.recovery) checks.push(['recovery catalogs equal', s.recovery.results.correct])
  if (s.history) checks.push(['history exports and revert exact', s.history.results.correct])
  checks.push(...httpApiChecks(s.httpApi))
  checks.push(...ackTargetsChecks(s.ackTargets))
  checks.push(...deviceSyncChecks(s.deviceSync))
  checks.push(...deviceRefillChecks(s.deviceRefill))
  for (const c of ['copies1', 'copies3']) {
    const r = s.ackLatency?.results[c]
    if (r) checks.push([`ack ${c} without timeouts`, r.timeouts === 0 && r.count > 0])
  }
  return checks
}

function cell(v, digits, unit) {
  if (typeof v !== 'number') return '—'
  return `${fmt(v, digits)}${unit ? ` ${unit}` : ''}`
}

/** The markdown table. */
export function markdown(report, table) {
  const m = report.machine
  const lines = [
    `# Rhizome benchmarks — ${report.date.slice(0, 19).replace('T', ' ')} UTC (${report.mode})`,
    '',
    `Command: \`${report.command}\` — total ${fmt(report.totalSeconds)} s.`,
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGB} GB RAM, ${m.platform}; load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd?.join(' ') ?? '?'} at end (other work was running on this machine).`,
    `Versions: ${Object.entries(report.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    'Ratio: how many times better Rhizome is (throughput: Rhizome / peer; times, latency and memory: peer / Rhizome); below 1 means worse.',
    'Rhizome runs with `--rate-messages 0 --rate-bytes 0` in fan-out (its default 10,000 msgs/s per socket would throttle the writer) and `--max-connections-per-ip 100000` where one load generator opens more than 1,000 sockets.',
    '',
    '| Scenario | Metric | Rhizome | Compared with | Their figure | Ratio | Target | Met |',
    '|---|---|---:|---|---:|---:|---|---|',
  ]
  for (const r of table) {
    lines.push(
      `| ${r.scenario} | ${r.metric} | ${cell(r.rhizome, r.digits, r.unit)} | ${r.peerName} | ${cell(r.peer, r.digits, r.unit)} | ${r.ratio === null ? '—' : `${fmt(r.ratio, 2)}x`} | ${r.target ?? ''} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'} |`,
    )
  }
  const checks = correctness(report)
  lines.push(
    '',
    `Correctness checks: ${checks.map(([n, ok]) => `${n} ${ok ? 'ok' : 'FAILED'}`).join('; ') || 'none'}.`,
  )
  const p = report.scenarios
  lines.push('', '## Parameters', '')
  for (const s of Object.values(p))
    lines.push(`- ${s.title}: \`${JSON.stringify(s.params)}\` (${fmt(s.seconds)} s)`)
  if (Object.keys(report.errors).length) {
    lines.push('', '## Errors', '')
    for (const [name, e] of Object.entries(report.errors)) lines.push(`- ${name}: \`${e.split('\n')[0]}\``)
  }
  lines.push('', '## Charts', '')
  for (const c of report.charts ?? []) lines.push(`![${c.title}](${c.file})`, '')
  return `${lines.join('\n')}\n`
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')

/** A horizontal bar chart: one bar per server, Rhizome highlighted. */
export function barChart(title, unit, bars, note = '') {
  const width = 720
  const rowH = 30
  const left = 260
  const top = 46
  const height = top + bars.length * rowH + 30
  const max = Math.max(...bars.map((b) => b.value).filter((v) => Number.isFinite(v)), 1e-9)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="38" fill="#555">${esc(unit)}${note ? ` — ${esc(note)}` : ''}</text>`,
  ]
  bars.forEach((b, i) => {
    const y = top + i * rowH
    const w = Number.isFinite(b.value) ? Math.max(1, ((width - left - 110) * b.value) / max) : 0
    const color = b.label.startsWith('Rhizome') ? '#2f7d32' : '#8a8f98'
    parts.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end">${esc(b.label)}</text>`)
    parts.push(
      `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${color}"/>`,
    )
    parts.push(
      `<text x="${left + w + 6}" y="${y + 18}">${Number.isFinite(b.value) ? fmt(b.value, b.value < 10 ? 2 : 0) : 'n/a'}</text>`,
    )
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

function charts(report) {
  const s = report.scenarios
  const out = []
  const per = (results, pick, kinds) =>
    kinds.filter((k) => results?.[k]).map((k) => ({ label: LABEL[k], value: pick(results[k]) }))
  if (s.fanout) {
    out.push([
      'fanout',
      'Fan-out: updates/s delivered to every reader',
      'updates/s, higher is better',
      per(s.fanout.results, (r) => r.updatesPerSecond, Object.keys(LABEL)),
    ])
  }
  if (s.manyRooms) {
    out.push([
      'many-rooms',
      'Many rooms: rate held with p99 <= 50 ms',
      'updates/s, higher is better',
      per(s.manyRooms.results, (r) => r.maxRate, Object.keys(LABEL)),
    ])
  }
  if (s.coldLoad) {
    out.push([
      'cold-load',
      'Cold load of the B4 history: new client synced',
      'ms, lower is better',
      per(s.coldLoad.results, (r) => r.loadMs, Object.keys(LABEL)),
    ])
  }
  if (s.ackLatency?.results.copies1) {
    const r = s.ackLatency.results
    const bars = [
      { label: 'Rhizome ACK copies=1 p99', value: r.copies1.p99 },
      { label: 'Rhizome ACK copies=3 p99', value: r.copies3?.p99 },
      { label: 'fsync floor p99 (sequential)', value: r.floorSequential.p99 },
      { label: 'fsync floor p99 (100 concurrent)', value: r.floorConcurrent.p99 },
    ]
    out.push(['ack-latency', 'Durable ACK latency, 100 writers', 'ms, lower is better', bars])
  }
  if (s.recovery) {
    const r = s.recovery.results
    out.push([
      'recovery',
      'Recovery of an empty relay from its peers',
      'ms, lower is better',
      [
        { label: 'Rhizome (refill from one peer)', value: r.recoveryMs },
        ...(r.threePeersMs === undefined
          ? []
          : [{ label: 'Rhizome (refill from three peers)', value: r.threePeersMs }]),
        { label: 'cp -r of the data directory', value: r.cpMs },
      ],
    ])
  }
  if (s.idleDocs) {
    out.push([
      'idle-docs',
      'RSS per active document',
      'KB, lower is better',
      per(s.idleDocs.results, (r) => r.perActiveDocKB, Object.keys(LABEL)),
    ])
  }
  const http = httpApiChart(s.httpApi)
  if (http) out.push(http)
  return out
}

/** Writes <date>.json, latest.json, latest.md and the charts; returns the markdown and the verdict. */
export async function writeReport(report, dir) {
  const stamp = report.date.slice(0, 10)
  report.charts = []
  for (const [id, title, unit, bars] of charts(report)) {
    if (bars.length === 0) continue
    const file = `${report.mode === 'quick' ? 'quick-' : ''}${id}.svg`
    await writeFile(join(dir, file), barChart(title, unit, bars, report.mode))
    report.charts.push({ title, file })
  }
  const table = rows(report)
  report.table = table
  report.correctness = Object.fromEntries(correctness(report))
  const correct = Object.values(report.correctness).every(Boolean)
  const prefix = report.mode === 'quick' ? 'quick-' : ''
  const json = `${JSON.stringify(report, null, 2)}\n`
  await writeFile(join(dir, `${prefix}${stamp}.json`), json)
  await writeFile(join(dir, `${prefix}latest.json`), json)
  const md = markdown(report, table)
  await writeFile(join(dir, `${prefix}latest.md`), md)
  return { table: md, correct }
}
