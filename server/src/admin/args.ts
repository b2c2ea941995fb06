import { ErrorCode, RhizomeError } from '@rhizome/protocol'

/** How one admin command is called: its options and how many positional arguments it takes. */
export interface CommandSpec {
  /** Command name as typed after `rhizome`. */
  name: string
  /** Full `--help` text. */
  usage: string
  /** Options by name (with the leading `--`): `value` takes an argument, `flag` does not. */
  options: Record<string, 'value' | 'flag'>
  /** Accepted number of positional arguments. */
  positionals: { min: number; max: number; names: string }
}

/** The arguments of one command after parsing. */
export interface ParsedArgs {
  positionals: string[]
  /** Option values by name without dashes (`token`, `out`); flags are `true`. */
  options: Map<string, string | true>
  /** `--help` or `-h` was given: print usage, ignore everything else. */
  help: boolean
}

/** A RhizomeError USAGE naming the command, for one-line errors and exit code 2. */
export function usageError(command: string, message: string): RhizomeError {
  return new RhizomeError(ErrorCode.USAGE, `${message} (see rhizome ${command} --help)`)
}

/**
 * Parses the arguments after the command name. Options may appear anywhere, as `--name value`
 * or `--name=value`; `--` ends the options (a document named `-x` stays a positional).
 * @throws RhizomeError USAGE for unknown options, missing values or a wrong number of positionals.
 */
export function parseCommandArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], options: new Map(), help: false }
  let optionsEnded = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      parsed.positionals.push(arg)
      continue
    }
    if (arg === '--') {
      optionsEnded = true
      continue
    }
    if (arg === '--help' || arg === '-h') {
      parsed.help = true
      continue
    }
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    const kind = spec.options[name]
    if (kind === undefined) throw usageError(spec.name, `unknown option '${name}'`)
    const key = name.replace(/^--/, '')
    if (kind === 'flag') {
      if (eq > 0) throw usageError(spec.name, `${name} takes no value`)
      parsed.options.set(key, true)
      continue
    }
    let value: string | undefined
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      value = argv[++i]
      if (value === undefined || spec.options[value] !== undefined)
        throw usageError(spec.name, `${name} needs a value`)
    }
    if (value === '') throw usageError(spec.name, `${name} needs a value`)
    parsed.options.set(key, value)
  }
  if (parsed.help) return parsed
  const n = parsed.positionals.length
  if (n < spec.positionals.min || n > spec.positionals.max) {
    throw usageError(spec.name, `expected ${spec.positionals.names}`)
  }
  return parsed
}

/** The string value of an option, or undefined when it was not given. */
export function stringOption(args: ParsedArgs, key: string): string | undefined {
  const value = args.options.get(key)
  return typeof value === 'string' ? value : undefined
}

/**
 * A whole-number option within bounds, or `fallback` when absent.
 * @throws RhizomeError USAGE when the value is not a whole number in range.
 */
export function intOption(
  args: ParsedArgs,
  command: string,
  key: string,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = stringOption(args, key)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw usageError(command, `--${key} needs a whole number between ${min} and ${max}, got '${raw}'`)
  }
  return Number(raw)
}

/** The admin token: `--token` wins over `RHIZOME_TOKEN`; undefined when neither is set. */
export function adminToken(args: ParsedArgs, env: NodeJS.ProcessEnv): string | undefined {
  return stringOption(args, 'token') ?? (env.RHIZOME_TOKEN || undefined)
}
