import { expect, it } from 'vitest'
import { CommitPipeline } from '../src/groupCommit/CommitPipeline.js'

/** A job: its name, and whether it may run while the batch before its own is written. */
interface Job {
  id: string
  early: boolean
}

/** A batch: the jobs run into it, and the batch it was staged on. */
interface Batch {
  no: number
  base: number | null
  jobs: string[]
}

/** Steps whose writes the test completes by hand, logging what happens in order. */
function manualPipeline(log: string[]) {
  const writes: { batch: Batch; done: () => void; fail: (err: unknown) => void }[] = []
  let opened = 0
  const pipeline = new CommitPipeline<Job, Batch>({
    early: (job) => job.early,
    open: (base) => ({ no: ++opened, base: base?.no ?? null, jobs: [] }),
    run: async (batch, jobs) => {
      // Running a job awaits (meta lookups) like the store's do.
      for (const job of jobs) {
        await Promise.resolve()
        batch.jobs.push(job.id)
        log.push(`run ${job.id} into #${batch.no}${batch.base === null ? '' : ` on #${batch.base}`}`)
      }
    },
    write: async (batch, jobs, submitted) => {
      await Promise.resolve()
      expect(jobs.map((j) => j.id)).toEqual(batch.jobs)
      log.push(`submit #${batch.no} ${batch.jobs.join(',')}`)
      const written = new Promise<void>((resolve, reject) => {
        writes.push({ batch, done: resolve, fail: reject })
      })
      submitted()
      await written
      log.push(`durable #${batch.no}`)
    },
  })
  const track = (id: string, early = true) =>
    pipeline.enqueue({ id, early }).then(
      () => log.push(`resolved ${id}`),
      (err: Error) => log.push(`rejected ${id}: ${err.message}`),
    )
  return { pipeline, writes, track }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 1))
  }
}

it('runs the next batch while one is written, writes strictly one at a time in order, resolves in order', async () => {
  const log: string[] = []
  const { writes, track } = manualPipeline(log)
  const a = track('a')
  await until(() => writes.length === 1)
  const b = track('b')
  const c = track('c')
  await until(() => log.includes('run c into #2 on #1'))
  // b and c are staged on the batch in flight, but not handed over before it is durable.
  expect(log).toEqual(['run a into #1', 'submit #1 a', 'run b into #2 on #1', 'run c into #2 on #1'])
  writes[0]!.done()
  await until(() => log.includes('resolved a'))
  expect(log.slice(4)).toEqual(['durable #1', 'submit #2 b,c', 'resolved a'])
  writes[1]!.done()
  await Promise.all([a, b, c])
  expect(log.slice(7)).toEqual(['durable #2', 'resolved b', 'resolved c'])
})

it('runs a job that may not run early, and every job after it, only once the batch in flight is durable', async () => {
  const log: string[] = []
  const { writes, track } = manualPipeline(log)
  const a = track('a')
  await until(() => writes.length === 1)
  const b = track('b')
  const x = track('x', false)
  const c = track('c')
  await until(() => log.includes('run b into #2 on #1'))
  await new Promise((r) => setTimeout(r, 5))
  expect(log).toEqual(['run a into #1', 'submit #1 a', 'run b into #2 on #1'])
  writes[0]!.done()
  await until(() => writes.length === 2)
  expect(log.slice(3, 7)).toEqual([
    'durable #1',
    'run x into #2 on #1',
    'run c into #2 on #1',
    'submit #2 b,x,c',
  ])
  writes[1]!.done()
  await Promise.all([a, b, x, c])
})

it('stages a batch again from the committed state when the write it was staged on fails', async () => {
  const log: string[] = []
  const { pipeline, writes, track } = manualPipeline(log)
  const a = track('a')
  await until(() => writes.length === 1)
  const b = track('b')
  await until(() => log.includes('run b into #2 on #1'))
  writes[0]!.fail(new Error('disk gone'))
  await until(() => writes.length === 2)
  expect(log.slice(3)).toEqual(['rejected a: disk gone', 'run b into #3', 'submit #3 b'])
  expect(writes[1]!.batch).toEqual({ no: 3, base: null, jobs: ['b'] })
  writes[1]!.done()
  await Promise.all([a, b])
  expect(log.slice(-2)).toEqual(['durable #3', 'resolved b'])
  await pipeline.drain()
})

it('fails the whole group of a job whose early run threw, and goes on with the next', async () => {
  const log: string[] = []
  const writes: (() => void)[] = []
  const pipeline = new CommitPipeline<Job, Batch>({
    early: () => true,
    open: (base) => ({ no: 0, base: base?.no ?? null, jobs: [] }),
    run: async (batch, jobs) => {
      for (const job of jobs) {
        if (job.id === 'bad') throw new Error('bad job')
        batch.jobs.push(job.id)
      }
    },
    write: async (batch, _jobs, submitted) => {
      log.push(`submit ${batch.jobs.join(',')}`)
      const written = new Promise<void>((resolve) => writes.push(resolve))
      submitted()
      await written
    },
  })
  const track = (id: string) =>
    pipeline.enqueue({ id, early: true }).then(
      () => log.push(`resolved ${id}`),
      (err: Error) => log.push(`rejected ${id}: ${err.message}`),
    )
  const a = track('a')
  await until(() => writes.length === 1)
  const b = track('b')
  const bad = track('bad')
  writes[0]!()
  await Promise.all([a, b, bad])
  expect(log).toEqual(['submit a', 'resolved a', 'rejected b: bad job', 'rejected bad: bad job'])
  const c = track('c')
  await until(() => writes.length === 2)
  writes[1]!()
  await c
  expect(log.slice(-2)).toEqual(['submit c', 'resolved c'])
})
