// @ts-check
// Polling with a deadline (CONVENTIONS.md item 9): tests wait for an outcome by checking it again
// and again until a deadline, never by sleeping and hoping. Plain JavaScript with JSDoc types
// because the benchmarks (plain Node 20) share it; `tsc -p tsconfig.test.json` type-checks it.

/**
 * Polls `check` every `interval` ms until it returns (or resolves to) a truthy value, and resolves
 * to that value. A `check` that throws counts as "not yet"; its last error becomes the `cause` of
 * the timeout error.
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {{ timeout?: number, interval?: number, what?: string }} [options] `timeout` in ms
 *   (default 15 000), `interval` in ms (default 50), `what` names the condition in the error
 * @returns {Promise<Exclude<T, false | null | undefined | 0 | ''>>}
 * @throws {Error} `timed out after <timeout> ms waiting for <what>` once the deadline passed
 */
export async function eventually(check, { timeout = 15_000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout
  /** @type {unknown} */
  let lastError
  for (;;) {
    try {
      const value = await check()
      if (value) return /** @type {Exclude<T, false | null | undefined | 0 | ''>} */ (value)
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`, { cause: lastError })
    }
    await new Promise((r) => setTimeout(r, interval))
  }
}
