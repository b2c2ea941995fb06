// @ts-check
// Seeded randomness for every random test and benchmark (CONVENTIONS.md item 8): one seed per run
// from SEED (random by default), one generator, and the seed with its replay command on failure.
// Plain JavaScript with JSDoc types because the benchmarks run on plain Node 20, which cannot
// import TypeScript; `tsc -p tsconfig.test.json` still type-checks it.

/**
 * The run's seed: `SEED` from the environment when set, else a fresh random one.
 * @returns {number} an unsigned 32-bit integer
 * @throws {TypeError} when `SEED` is set but is not a non-negative integer (a typo must not replay seed 0)
 */
export function testSeed() {
  const raw = process.env.SEED
  if (raw !== undefined && raw !== '') {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`SEED must be a non-negative integer, got ${raw}`)
    return n >>> 0
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0
}

/**
 * Runs `fn`; on failure rethrows its error with the seed and the exact command that replays the run.
 * @template T
 * @param {string} file the test file, as `npx vitest run` takes it
 * @param {number} seed
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withSeed(file, seed, fn) {
  try {
    return await fn()
  } catch (err) {
    const replay = `SEED=${seed} npx vitest run ${file}`
    console.error(`failed with seed ${seed}; replay: ${replay}`)
    if (err instanceof Error) err.message += `\n(seed ${seed}; replay: ${replay})`
    throw err
  }
}

/**
 * A small, fast, seedable generator (mulberry32). The same seed gives the same stream on every
 * machine; {@link Prng.fork} derives independent streams so that one consumer drawing more numbers
 * does not shift what another one draws.
 */
export class Prng {
  /** @type {number} */
  #state

  /** @param {number} seed any number; only its low 32 bits count */
  constructor(seed) {
    this.#state = seed >>> 0
  }

  /**
   * Uniform in [0, 1).
   * @returns {number}
   */
  float() {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /**
   * Integer in [min, max].
   * @param {number} min
   * @param {number} max
   * @returns {number}
   */
  int(min, max) {
    return min + Math.floor(this.float() * (max - min + 1))
  }

  /**
   * True with probability `p`.
   * @param {number} p
   * @returns {boolean}
   */
  chance(p) {
    return this.float() < p
  }

  /**
   * One element of a non-empty array.
   * @template T
   * @param {readonly T[]} items
   * @returns {T}
   * @throws {TypeError} for an empty array
   */
  pick(items) {
    if (items.length === 0) throw new TypeError('pick from an empty array')
    return /** @type {T} */ (items[Math.floor(this.float() * items.length)])
  }

  /**
   * `n` distinct elements (all of them when n >= length), in random order.
   * @template T
   * @param {readonly T[]} items
   * @param {number} n
   * @returns {T[]}
   */
  sample(items, n) {
    const copy = [...items]
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1))
      ;[copy[i], copy[j]] = [/** @type {T} */ (copy[j]), /** @type {T} */ (copy[i])]
    }
    return copy.slice(0, n)
  }

  /**
   * An independent generator derived from this one.
   * @returns {Prng}
   */
  fork() {
    return new Prng(Math.floor(this.float() * 2 ** 32))
  }
}

/**
 * A seeded generator of floats in [0, 1): the stream of `new Prng(seed).float()`.
 * @param {number} seed
 * @returns {() => number}
 */
export function prng(seed) {
  const generator = new Prng(seed)
  return () => generator.float()
}
