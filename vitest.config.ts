import { defaultExclude, defineConfig } from 'vitest/config'

// Unit tests run in parallel; multi-process integration and chaos tests start real relays and
// are heavy on a 2-core machine, so test files run at most two at a time.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'server/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: [...defaultExclude, '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
})
