import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** The relay's Prometheus metrics; one registry per relay instance. */
export class RelayMetrics {
  readonly registry = new Registry()
  readonly connections = new Gauge({
    name: 'rhizome_connections',
    help: 'Open client WebSocket connections',
    registers: [this.registry],
  })
  readonly sessions = new Gauge({
    name: 'rhizome_sessions',
    help: 'Open device sessions (/_session)',
    registers: [this.registry],
  })
  readonly sessionFrames = new Counter({
    name: 'rhizome_session_frames_total',
    help: 'Frames of device sessions, by direction (in: from devices)',
    labelNames: ['direction'],
    registers: [this.registry],
  })
  readonly sessionBytes = new Counter({
    name: 'rhizome_session_bytes_total',
    help: 'Bytes of device sessions, by direction (also counted in the client byte totals)',
    labelNames: ['direction'],
    registers: [this.registry],
  })
  readonly docsActive = new Gauge({
    name: 'rhizome_docs_active',
    help: 'Documents loaded in memory',
    registers: [this.registry],
  })
  readonly docsStored = new Gauge({
    name: 'rhizome_docs_stored',
    help: 'Documents in the store',
    registers: [this.registry],
  })
  readonly updatesIn = new Counter({
    name: 'rhizome_updates_in_total',
    help: 'Sync updates received from clients',
    registers: [this.registry],
  })
  readonly updatesOut = new Counter({
    name: 'rhizome_updates_out_total',
    help: 'Sync updates sent to clients',
    registers: [this.registry],
  })
  readonly bytesIn = new Counter({
    name: 'rhizome_bytes_in_total',
    help: 'Bytes received from clients',
    registers: [this.registry],
  })
  readonly bytesOut = new Counter({
    name: 'rhizome_bytes_out_total',
    help: 'Bytes sent to clients',
    registers: [this.registry],
  })
  readonly commitSeconds = new Histogram({
    name: 'rhizome_commit_seconds',
    help: 'Duration of one group commit (fsynced batch)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  })
  readonly ackSeconds = new Histogram({
    name: 'rhizome_ack_seconds',
    help: 'From receiving an update to sending its ACK, by copies',
    labelNames: ['copies'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  })
  readonly closes = new Counter({
    name: 'rhizome_socket_closes_total',
    help: 'Client sockets closed by the relay, by close code',
    labelNames: ['code'],
    registers: [this.registry],
  })
  readonly peerConnected = new Gauge({
    name: 'rhizome_peer_connected',
    help: '1 while the link to a peer is up and authenticated',
    labelNames: ['peer'],
    registers: [this.registry],
  })
  readonly peerLag = new Gauge({
    name: 'rhizome_peer_lag_updates',
    help: 'Updates sent to a peer and not yet acknowledged as durable',
    labelNames: ['peer'],
    registers: [this.registry],
  })
  readonly replicationBytes = new Counter({
    name: 'rhizome_replication_bytes_total',
    help: 'Replication payload bytes exchanged with peers',
    labelNames: ['peer', 'direction'],
    registers: [this.registry],
  })
  readonly antiEntropyRounds = new Counter({
    name: 'rhizome_anti_entropy_rounds_total',
    help: 'Completed anti-entropy passes (catalog fully pulled from a peer)',
    labelNames: ['peer'],
    registers: [this.registry],
  })
  readonly corruptDocs = new Counter({
    name: 'rhizome_store_corrupt_total',
    help: 'Documents found with corrupt records',
    registers: [this.registry],
  })
}
