import { expect, it } from 'vitest'
import { CommitQueue } from '../src/groupCommit/CommitQueue.js'

/** A commit function whose writes the test completes by hand, logging what happens in order. */
function manualCommits(log: string[]) {
  const writes: { jobs: readonly string[]; done: () => void; fail: (err: unknown) => void }[] = []
  const queue = new CommitQueue<string>(async (jobs, submitted) => {
    // Preparing a batch awaits (meta lookups, one per job) before the write is handed over.
    for (let i = 0; i < 3; i++) await Promise.resolve()
    log.push(`submit ${jobs.join(',')}`)
    const written = new Promise<void>((resolve, reject) => {
      writes.push({ jobs, done: resolve, fail: reject })
    })
    submitted?.()
    await written
    log.push(`durable ${jobs.join(',')}`)
  })
  return { queue, writes }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 1))
  }
}

// What callers do when their commit resolves (a relay's ACK writes) ran between two commits, on the
// path of every job of the next one: the next write is now handed to the database first.
it('resolves a durable group once the next group is submitted, never before its own write is durable', async () => {
  const log: string[] = []
  const { queue, writes } = manualCommits(log)
  const track = (job: string) =>
    queue.enqueue(job).then(
      () => log.push(`resolved ${job}`),
      () => log.push(`rejected ${job}`),
    )
  const a = track('a')
  await until(() => writes.length === 1)
  const b = track('b')
  const c = track('c')
  writes[0]!.done()
  await until(() => writes.length === 2)
  await until(() => log.includes('resolved a'))
  expect(log).toEqual(['submit a', 'durable a', 'submit b,c', 'resolved a'])
  const d = track('d')
  writes[1]!.fail(new Error('disk gone'))
  await until(() => writes.length === 3)
  await until(() => log.includes('rejected c'))
  writes[2]!.done()
  await Promise.all([a, b, c, d])
  expect(log).toEqual([
    'submit a',
    'durable a',
    'submit b,c',
    'resolved a',
    'rejected b',
    'rejected c',
    'submit d',
    'durable d',
    'resolved d',
  ])
})

it('resolves a group at once when no other waits, and drain waits for all', async () => {
  const log: string[] = []
  const { queue, writes } = manualCommits(log)
  const a = queue.enqueue('a').then(() => log.push('resolved a'))
  await until(() => writes.length === 1)
  writes[0]!.done()
  await a
  expect(log).toEqual(['submit a', 'durable a', 'resolved a'])
  const b = queue.enqueue('b')
  const drained = queue.drain().then(() => log.push('drained'))
  await until(() => writes.length === 2)
  expect(log).not.toContain('drained')
  writes[1]!.done()
  await b
  await drained
  expect(log.at(-1)).toBe('drained')
})
