#!/usr/bin/env node
import { ErrorCode, isRhizomeError } from '@rhizome/protocol'
import {
  adminToken,
  type CommandSpec,
  intOption,
  type ParsedArgs,
  parseCommandArgs,
  stringOption,
  usageError,
} from './admin/args.js'
import { BACKUP_SPEC, runBackup } from './admin/backup.js'
import { DELETE_SPEC, runDelete, runUndelete, UNDELETE_SPEC } from './admin/delete.js'
import { runExportAt } from './admin/exportAt.js'
import { EXPORT_SPEC, IMPORT_SPEC, runExport, runImport } from './admin/exportImport.js'
import { HISTORY_SPEC, runHistory } from './admin/history.js'
import { INSPECT_SPEC, runInspect } from './admin/inspect.js'
import { parseRelayUrl } from './admin/relayUrl.js'
import { RESTORE_SPEC, runRestore } from './admin/restore.js'
import { REVERT_SPEC, runRevert } from './admin/revert.js'
import { timeOption } from './admin/timeOption.js'
import { runVerify, VERIFY_SPEC } from './admin/verify.js'

/** Usage of `rhizome --help`. */
const ADMIN_USAGE = `Usage: rhizome COMMAND [arguments] [--token T]

Administration of Rhizome relays.

Commands:
  verify URL URL ...             compare the relays' document catalogs
  export URL DOC [--out FILE]    write a document as one Yjs update
         [--at TIME]             ... as it was at TIME
  import URL DOC FILE            merge a Yjs update into a document on a relay
  history URL DOC                list a document's restore points, newest first
  revert URL DOC --to TIME       make a document's content what it was at TIME (a new update)
  backup --data DIR --out FILE   consistent copy of a relay's data directory (also while it runs)
  restore --data DIR FILE        write a backup into a new or empty directory
  inspect --data DIR             list a stopped relay's documents and check every record
  delete URL DOC                 delete a document on every relay of the mesh (a tombstone)
  undelete URL DOC               bring a deleted document back (within --history-ms)

URL is a relay's base URL: ws://host:port or http://host:port (and wss://, https://).
TIME is ISO 8601 (2026-12-01T14:03:00Z) or milliseconds since the epoch.
The admin token comes from --token T (anywhere after the command) or RHIZOME_TOKEN.
Progress is shown on stderr when it is a terminal.

Exit status: 0 success; 1 verify found divergence or inspect found corrupt records;
2 usage, connection, authorization or I/O error.
Run 'rhizome COMMAND --help' for the options of a command.
`

type Runner = (args: ParsedArgs) => Promise<number>

const print = (line: string) => process.stdout.write(`${line}\n`)
const warn = (line: string) => process.stderr.write(`${line}\n`)

function required(args: ParsedArgs, spec: CommandSpec, key: string): string {
  const value = stringOption(args, key)
  if (value === undefined) throw usageError(spec.name, `--${key} is required`)
  return value
}

function requiredTime(args: ParsedArgs, spec: CommandSpec, key: string): number {
  const at = timeOption(args, spec.name, key)
  if (at === undefined) throw usageError(spec.name, `--${key} is required`)
  return at
}

const commands: Record<string, { spec: CommandSpec; run: Runner }> = {
  verify: {
    spec: VERIFY_SPEC,
    run: (args) =>
      runVerify(
        args.positionals.map(parseRelayUrl),
        {
          token: adminToken(args, process.env),
          pageSize: intOption(args, 'verify', 'page-size', 1000, 1, 1000),
        },
        print,
      ),
  },
  export: {
    spec: EXPORT_SPEC,
    run: (args) => {
      const at = timeOption(args, 'export', 'at')
      if (at !== undefined) {
        return runExportAt(
          parseRelayUrl(args.positionals[0]!),
          args.positionals[1]!,
          at,
          {
            token: adminToken(args, process.env),
            timeoutMs: intOption(args, 'export', 'timeout', 60_000),
            out: stringOption(args, 'out'),
          },
          print,
        )
      }
      return runExport(
        parseRelayUrl(args.positionals[0]!),
        args.positionals[1]!,
        {
          token: adminToken(args, process.env),
          timeoutMs: intOption(args, 'export', 'timeout', 60_000),
          out: stringOption(args, 'out'),
        },
        print,
        warn,
      )
    },
  },
  history: {
    spec: HISTORY_SPEC,
    run: (args) =>
      runHistory(
        parseRelayUrl(args.positionals[0]!),
        args.positionals[1]!,
        {
          token: adminToken(args, process.env),
          timeoutMs: intOption(args, 'history', 'timeout', 60_000),
        },
        print,
      ),
  },
  revert: {
    spec: REVERT_SPEC,
    run: (args) =>
      runRevert(
        parseRelayUrl(args.positionals[0]!),
        args.positionals[1]!,
        requiredTime(args, REVERT_SPEC, 'to'),
        {
          token: adminToken(args, process.env),
          timeoutMs: intOption(args, 'revert', 'timeout', 60_000),
          copies: intOption(args, 'revert', 'copies', 1, 1, 1000),
        },
        print,
      ),
  },
  import: {
    spec: IMPORT_SPEC,
    run: (args) =>
      runImport(
        parseRelayUrl(args.positionals[0]!),
        args.positionals[1]!,
        args.positionals[2]!,
        {
          token: adminToken(args, process.env),
          timeoutMs: intOption(args, 'import', 'timeout', 60_000),
          copies: intOption(args, 'import', 'copies', 1, 1, 1000),
        },
        print,
      ),
  },
  backup: {
    spec: BACKUP_SPEC,
    run: (args) =>
      runBackup(
        required(args, BACKUP_SPEC, 'data'),
        required(args, BACKUP_SPEC, 'out'),
        { tmp: stringOption(args, 'tmp') },
        print,
      ),
  },
  restore: {
    spec: RESTORE_SPEC,
    run: (args) => runRestore(args.positionals[0]!, required(args, RESTORE_SPEC, 'data'), print),
  },
  delete: {
    spec: DELETE_SPEC,
    run: (args) =>
      runDelete(
        parseRelayUrl(args.positionals[0]!),
        args.positionals[1]!,
        { token: adminToken(args, process.env) },
        print,
      ),
  },
  undelete: {
    spec: UNDELETE_SPEC,
    run: (args) =>
      runUndelete(
        parseRelayUrl(args.positionals[0]!),
        args.positionals[1]!,
        { token: adminToken(args, process.env) },
        print,
      ),
  },
  inspect: {
    spec: INSPECT_SPEC,
    run: (args) => runInspect(required(args, INSPECT_SPEC, 'data'), print),
  },
}

/** Runs one `rhizome` invocation and returns its exit status; never throws. */
async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === undefined) {
      warn('rhizome: missing command (see rhizome --help)')
      return 2
    }
    const topic = name === 'help' ? rest[0] : undefined
    process.stdout.write(topic && commands[topic] ? commands[topic].spec.usage : ADMIN_USAGE)
    return 0
  }
  const command = commands[name]
  if (!command) {
    warn(`rhizome: unknown command '${name}' (see rhizome --help)`)
    return 2
  }
  try {
    const args = parseCommandArgs(rest, command.spec)
    if (args.help) {
      process.stdout.write(command.spec.usage)
      return 0
    }
    return await command.run(args)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    // Every failure of an admin command is exit 2 (docs/PROTOCOL.md section 8); 1 is reserved for findings.
    if (isRhizomeError(err, ErrorCode.USAGE)) warn(`rhizome ${name}: ${message}`)
    else if (isRhizomeError(err)) warn(`rhizome ${name}: ${message} [${err.code}]`)
    else warn(`rhizome ${name}: ${message}`)
    return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Let stdout drain (a pipe may still hold an export) before exiting.
    process.stdout.write('', () => process.exit(code))
  },
  (err) => {
    process.stderr.write(`rhizome: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  },
)
