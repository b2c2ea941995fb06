import { defineConfig } from 'vite'

// `pnpm start` (demo/scripts/start.mjs) adds the server port and the /api proxy to the supervisor.
export default defineConfig({
  clearScreen: false,
  resolve: {
    // One Yjs for the app, y-codemirror.next and @rhizome/client: two copies break `instanceof`.
    dedupe: ['yjs', 'y-protocols', 'lib0'],
  },
  optimizeDeps: {
    // Listed up front so the dev server never re-optimizes (and reloads the page) mid-session.
    include: [
      'yjs',
      'y-protocols/awareness',
      'y-codemirror.next',
      'codemirror',
      '@codemirror/state',
      '@codemirror/view',
      '@codemirror/lang-markdown',
      '@rhizome/client',
    ],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 1500 },
})
