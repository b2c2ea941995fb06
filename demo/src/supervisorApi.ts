/** A relay as the supervisor reports it (demo/scripts/RelaySupervisor.mjs). */
export interface SupervisedRelayInfo {
  n: number
  id: string
  url: string
  port: number
  state: 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed'
  pid: number | null
  wipes: number
  /** Documents in the relay's store (from /healthz), null while it does not answer. */
  docs: number | null
  /** True while the relay is still catching up with its peers after a start. */
  recovering: boolean | null
}

export interface SupervisorEvent {
  at: number
  relay: string | null
  text: string
}

/** GET /api/state. */
export interface SupervisorState {
  relayUrls: string[]
  relays: SupervisedRelayInfo[]
  events: SupervisorEvent[]
}

/** A chaos action of the supervisor's control endpoint. */
export type ChaosAction =
  | { kind: 'kill' | 'wipe' | 'restart'; relay: number }
  | { kind: 'outage' }
  | { kind: 'restart-all' }

/** Reads the supervisor's state; null when the app runs without `pnpm start` (no supervisor). */
export async function fetchSupervisorState(): Promise<SupervisorState | null> {
  try {
    const res = await fetch('/api/state', { cache: 'no-store' })
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return null
    return (await res.json()) as SupervisorState
  } catch {
    return null
  }
}

/** Runs a chaos action; resolves once the supervisor finished it. */
export async function runChaosAction(action: ChaosAction): Promise<void> {
  const path =
    action.kind === 'outage' || action.kind === 'restart-all'
      ? `/api/${action.kind}`
      : `/api/relays/${action.relay}/${action.kind}`
  const res = await fetch(path, { method: 'POST', headers: { 'x-rhizome-demo': '1' } })
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string }
    throw new Error(body.message ?? `${path} failed with ${res.status}`)
  }
}

/** One relay's `/docs` digests as the supervisor read them; `digests` is null when it did not answer. */
export interface RelayCatalog {
  n: number
  url: string
  digests: Record<string, string | null> | null
}

/**
 * Every supervised relay's catalog of the documents starting with `prefix` (GET /api/catalogs);
 * null without a supervisor.
 */
export async function fetchRelayCatalogs(prefix: string): Promise<RelayCatalog[] | null> {
  try {
    const res = await fetch(`/api/catalogs?prefix=${encodeURIComponent(prefix)}`, { cache: 'no-store' })
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return null
    return ((await res.json()) as { relays: RelayCatalog[] }).relays
  } catch {
    return null
  }
}
