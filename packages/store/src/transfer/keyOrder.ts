const utf8 = new TextEncoder()

/** LevelDB's order of two string keys: their UTF-8 bytes (UTF-16 code units do not always agree). */
export function byKeyOrder(a: string, b: string): number {
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  for (let i = 0; i < x.length && i < y.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}
