/** The first note of a brand-new mesh: a short tour of what to try. */
export const WELCOME_TEXT = `# Welcome to Rhizome

Every relay and every device here holds a full copy of these notes. Nothing is the master copy.

Things to try:
- Open this page in a second window: edit together and watch the other cursor.
- **Kill** a relay in the Chaos panel. Keep typing: the note is still saved on this device and the two relays left.
- **Wipe** a relay's disk, then **Start** it: it refills from its peers.
- **The 2009 outage** wipes all three relay disks at once. Start them again: this browser refills them.
- **Cut this browser off the network**, type, reconnect: the pending edits go out.
`
