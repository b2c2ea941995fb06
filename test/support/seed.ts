/** Seeded randomness for tests: one seed from SEED (random by default), printed with a replay command on failure. */

/** A seeded generator of floats in [0, 1) (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The run's seed: `SEED` from the environment, else random. */
export function testSeed(): number {
  const env = process.env.SEED
  return env !== undefined && env !== '' ? Number(env) >>> 0 : Math.floor(Math.random() * 2 ** 32)
}

/** Runs `fn`; on failure rethrows with the seed and the exact command that replays the run. */
export async function withSeed<T>(file: string, seed: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const replay = `SEED=${seed} npx vitest run ${file}`
    console.error(`failed with seed ${seed}; replay: ${replay}`)
    if (err instanceof Error) err.message += `\n(seed ${seed}; replay: ${replay})`
    throw err
  }
}
