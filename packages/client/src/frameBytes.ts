import { decodeMessage } from '@rhizome/protocol'

/** The reason of a y-websocket AUTH permission-denied frame (docs/PROTOCOL.md section 3), else null. */
export function authDenial(bytes: Uint8Array): string | null {
  try {
    const m = decodeMessage(bytes)
    return m.type === 'auth-denied' ? m.reason : null
  } catch {
    return null
  }
}

/** The bytes of a WebSocket message event's data (ArrayBuffer, Buffer or view); null for text. */
export function frameBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return null
}
