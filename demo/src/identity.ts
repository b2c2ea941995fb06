/** Who this tab is in the notes: a name and a cursor color, kept per storage slot. */
export interface Identity {
  name: string
  color: string
  colorLight: string
}

const NAMES = ['Ada', 'Grace', 'Alan', 'Barbara', 'Edsger', 'Frances', 'Ken', 'Radia', 'Tony', 'Margaret']
const COLORS = ['#d1495b', '#2e86ab', '#3c8d2f', '#8f5bd6', '#e07a1f', '#1d9a8a', '#c2408f', '#5c6bc0']

/** The identity saved for `slot`, or a new random one (saved). */
export function loadIdentity(slot: number): Identity {
  const key = `rhizome-demo-identity-${slot}`
  try {
    const saved = JSON.parse(localStorage.getItem(key) ?? 'null') as Identity | null
    if (saved && typeof saved.name === 'string' && typeof saved.color === 'string') return saved
  } catch {
    // A malformed entry is replaced below.
  }
  const color = COLORS[Math.floor(Math.random() * COLORS.length)]!
  const identity = {
    name: NAMES[Math.floor(Math.random() * NAMES.length)]!,
    color,
    colorLight: `${color}33`,
  }
  saveIdentity(slot, identity)
  return identity
}

export function saveIdentity(slot: number, identity: Identity): void {
  localStorage.setItem(`rhizome-demo-identity-${slot}`, JSON.stringify(identity))
}

/**
 * Picks this tab's local replica: IndexedDB database `rhizome-demo-<slot>`, the lowest slot no
 * other tab of this browser holds (Web Locks). A store assumes it is the only writer of its
 * database, so two tabs never share one; a reload gets its slot back.
 */
export async function claimStorageSlot(): Promise<number> {
  if (!('locks' in navigator)) return 1
  for (let slot = 1; ; slot++) {
    const held = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(`rhizome-demo-${slot}`, { ifAvailable: true }, (lock) => {
        if (lock === null) {
          resolve(false)
          return
        }
        resolve(true)
        // Held for the page's lifetime.
        return new Promise<void>(() => {})
      })
    })
    if (held) return slot
  }
}
