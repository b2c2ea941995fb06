import { afterEach } from 'vitest'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

const open = new Set<WebsocketProvider>()

/** Destroys every provider opened through {@link stockProvider} after each test. */
afterEach(() => {
  for (const p of open) p.destroy()
  open.clear()
})

/**
 * A stock y-websocket `WebsocketProvider` exactly as an app would create it on Node (ws as the
 * WebSocket implementation, no BroadcastChannel), destroyed after the test.
 */
export function stockProvider(
  url: string,
  name: string,
  doc = new Y.Doc(),
  params: Record<string, string> = {},
): WebsocketProvider {
  const provider = new WebsocketProvider(url, name, doc, {
    WebSocketPolyfill: WebSocket as never,
    disableBc: true,
    params,
  })
  open.add(provider)
  return provider
}

/** Resolves once the provider has synced with the relay. */
export function whenSynced(provider: WebsocketProvider, timeout = 10_000): Promise<void> {
  if (provider.synced) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider not synced within ${timeout} ms`)), timeout)
    const onSync = (synced: boolean) => {
      if (!synced) return
      clearTimeout(timer)
      provider.off('sync', onSync)
      resolve()
    }
    provider.on('sync', onSync)
  })
}

/** Resolves with the close code once the relay closed the provider's socket permanently (44xx). */
export function whenClosed(
  provider: WebsocketProvider,
  timeout = 10_000,
): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider not closed within ${timeout} ms`)), timeout)
    provider.once('closed', (event) => {
      clearTimeout(timer)
      resolve(event)
    })
  })
}
