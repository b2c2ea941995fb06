import { parseTime } from '../http/documentAt.js'
import { type ParsedArgs, stringOption, usageError } from './args.js'

/**
 * A `TIME` option (docs/PROTOCOL.md section 8.1: ISO 8601 or ms since the epoch) as ms since the
 * epoch, or undefined when absent. Whether it lies in the history window is the relay's to say
 * (its clock and its `--history-ms` decide).
 * @throws RhizomeError USAGE naming the option when the value is neither form.
 */
export function timeOption(args: ParsedArgs, command: string, key: string): number | undefined {
  const raw = stringOption(args, key)
  if (raw === undefined) return undefined
  const at = parseTime(raw)
  if (at === null || !Number.isSafeInteger(at))
    throw usageError(
      command,
      `--${key} must be ISO 8601 (2026-12-01T14:03:00Z) or ms since the epoch, got '${raw}'`,
    )
  return at
}
