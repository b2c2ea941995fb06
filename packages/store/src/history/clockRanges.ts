/**
 * Sets of clocks of one client as sorted, merged, non-adjacent ranges, stored flat:
 * `[clock, len, clock, len, ...]` (the shape of a Yjs delete set's entries for one client).
 */

/** A flat range list: `[clock, len, clock, len, ...]`. */
export type ClockRanges = number[]

/** Sorts and merges any flat range list (overlapping or adjacent ranges become one). */
export function normalizeRanges(ranges: readonly number[]): ClockRanges {
  const pairs: [number, number][] = []
  for (let i = 0; i + 1 < ranges.length; i += 2)
    if (ranges[i + 1]! > 0) pairs.push([ranges[i]!, ranges[i + 1]!])
  pairs.sort((a, b) => a[0] - b[0])
  const out: ClockRanges = []
  for (const [clock, len] of pairs) {
    const last = out.length - 2
    if (last >= 0 && clock <= out[last]! + out[last + 1]!) {
      out[last + 1] = Math.max(out[last + 1]!, clock + len - out[last]!)
    } else out.push(clock, len)
  }
  return out
}

/** The union of normalized range lists, normalized. */
export function unionRanges(lists: readonly ClockRanges[]): ClockRanges {
  if (lists.length === 1) return lists[0]!.slice()
  return normalizeRanges(lists.flat())
}

/** `base` without the clocks of `remove` (both normalized); the result is normalized. */
export function subtractRanges(base: ClockRanges, remove: ClockRanges): ClockRanges {
  const out: ClockRanges = []
  let r = 0
  for (let b = 0; b < base.length; b += 2) {
    let start = base[b]!
    const end = start + base[b + 1]!
    // Skip removals that end before this range; they cannot touch later ranges either.
    while (r < remove.length && remove[r]! + remove[r + 1]! <= start) r += 2
    let k = r
    while (k < remove.length && remove[k]! < end) {
      const rs = remove[k]!
      const re = rs + remove[k + 1]!
      if (rs > start) out.push(start, rs - start)
      start = Math.max(start, re)
      if (re >= end) break
      k += 2
    }
    if (start < end) out.push(start, end - start)
  }
  return out
}
