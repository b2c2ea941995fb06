import type { ReplicaStatus } from '@rhizome/client'

/** What the header's network pill shows. */
export interface PillView {
  /** `ok` every relay synced, `partial` some, `down` none or cut off. */
  level: 'ok' | 'partial' | 'down'
  text: string
}

/**
 * The header's summary of the replica's relay sessions (`replica.status`, one session per relay):
 * a relay counts as synced only while its session is in state `synced`, so an offline relay is
 * never reported synced, whatever the documents' own statuses say.
 */
export function networkPill(status: ReplicaStatus, cutOff: boolean): PillView {
  const total = status.relays.length
  const synced = status.relays.filter((r) => r.state === 'synced').length
  if (cutOff) return { level: 'down', text: 'Offline: cut off' }
  if (synced === 0) return { level: 'down', text: 'Offline: no relay' }
  return { level: synced < total ? 'partial' : 'ok', text: `${synced} of ${total} relays synced` }
}
