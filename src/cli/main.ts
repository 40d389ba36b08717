// The `schools` command: serve, import data and overlays, warm the cache, scheduler status.
// In a checkout: `npm run schools -- <command>`.
import { parseArgs } from 'node:util'
import { loadConfig } from '../config.ts'
import { isAppError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import { importCommand } from './import-command.ts'
import { coverageCommand } from './coverage-command.ts'
import { consoleOutput } from './output.ts'
import { runsCommand } from './runs-command.ts'
import { schedulerStatusCommand } from './scheduler-command.ts'
import { serveCommand } from './serve-command.ts'
import { WARM_GROUP_FLAGS, warmupCommand } from './warmup-command.ts'

const HELP = `Usage: schools <command> [options]

Commands:
  serve [--workers N]              Start the HTTP API (N worker processes; N > 1 needs REDIS_URL)
  import [--file F] [--nets F] [--profiles F]
                                   Import the EDB school list, school nets and primary profiles
                                   (defaults: the bundled files), then invalidate and re-warm
  import-banding --file F          Import the operator's secondary banding (CSV or JSON)
  import-windows --file F          Import application windows (CSV: school_no,opens,closes)
  warmup [--primary] [--secondary] [--stats] [--filters] [--details] [--learned] [--all] [--verbose] [--json]
                                   Warm the cache (no group flag: all but details)
  clear-and-warmup [--verbose] [--json]
                                   Expire every cached value (still served until replaced), warm all
  scheduler status [--json]        Jobs, next runs, last runs, cache figures
  runs [--page N] [--page-size N] [--json]
                                   The warmup run history, newest first
  coverage [--json] [--delete-statistics]
                                   Warm-set coverage, top missed keys, next learned warmup
  help                             This text

Where the commands run: when a server of this deployment runs, every command but serve is sent
to it (admin API): found through the runtime file it writes beside its data (RUNTIME_FILE), or
given with --url URL / SCHOOLS_URL and ADMIN_TOKEN. With no server running the CLI works on the
database directly; on the embedded database (no REDIS_URL) a warmup then has nothing to warm.

Configuration comes from the environment (see .env.example).`

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    consoleOutput.line(HELP)
    return command ? 0 : 2
  }
  const config = loadConfig()
  // A command's log lines (warmup started/finished, imports) go to the log file like the
  // server's; on the terminal only warnings, on stderr: stdout is for results.
  const logger = command === 'serve' ? createLogger(config) : createLogger(config, { console: 'stderr', consoleLevel: 'warn' })
  const url = { url: { type: 'string' } } as const
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { workers: { type: 'string' } }, strict: true })
      return serveCommand(config, logger, values.workers)
    }
    case 'import':
    case 'import-banding':
    case 'import-windows': {
      const { values } = parseArgs({ args: rest, options: { file: { type: 'string' }, nets: { type: 'string' }, profiles: { type: 'string' }, json: { type: 'boolean' }, ...url }, strict: true })
      return importCommand(command, config, logger, values, consoleOutput)
    }
    case 'warmup':
    case 'clear-and-warmup': {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...Object.fromEntries(WARM_GROUP_FLAGS.map((group) => [group, { type: 'boolean' as const }])),
          all: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, json: { type: 'boolean' }, ...url,
        },
        strict: true,
      })
      return warmupCommand(command === 'clear-and-warmup', config, logger, values, consoleOutput)
    }
    case 'scheduler': {
      const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, ...url }, allowPositionals: true, strict: true })
      if (positionals[0] !== 'status') {
        consoleOutput.error('Usage: schools scheduler status [--json]')
        return 2
      }
      return schedulerStatusCommand(config, logger, values, consoleOutput)
    }
    case 'runs': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, page: { type: 'string' }, 'page-size': { type: 'string' }, ...url }, strict: true })
      return runsCommand(config, logger, values, consoleOutput)
    }
    case 'coverage':
      return coverageCommand(config, logger, rest, consoleOutput)
    default:
      consoleOutput.error(`Unknown command '${command}'.\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (error: unknown) => {
  // Operator mistakes (bad file, bad flag, bad config) get one clear line, not a stack.
  const badFlag = error instanceof TypeError && Boolean((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
  const known = isAppError(error) || badFlag
  consoleOutput.error(`schools: ${error instanceof Error ? error.message : String(error)}`)
  if (!known) consoleOutput.error(error instanceof Error && error.stack ? error.stack : '')
  // 2 is a usage error (like an unknown command), 1 a failure.
  process.exitCode = badFlag || (isAppError(error) && error.statusCode < 500) ? 2 : 1
})
