// pino, Fastify's logger: JSON lines to the console and to the log file. LOG_FORMAT=pretty
// makes the console human-readable (ISO time, level, message, one line per event); the file
// stays JSON for tools. Secrets registered with redactSecret() never reach either.
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import pino, { type Logger } from 'pino'
import type { PrettyOptions, PrettyStream } from 'pino-pretty'
import type { Config } from './config.ts'

export type { Logger }

export interface LoggerOptions {
  name?: string
  /** Console stream: stdout (the server) or stderr (the CLI, whose stdout carries results). */
  console?: 'stdout' | 'stderr'
  /** Level for the console only (the CLI shows warnings there and logs everything to the file). */
  consoleLevel?: Config['logLevel']
}

const secrets = new Set<string>()

/** From now on `secret` is replaced by [REDACTED] in every log line of this process, whatever field carries it. */
export function redactSecret(secret: string): void {
  if (secret.length >= 8) secrets.add(secret)
}

function scrub(line: string): string {
  let out = line
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[REDACTED]')
  return out
}

/** pino-pretty, loaded only for LOG_FORMAT=pretty (createLogger is synchronous, hence require). */
const pretty = (options: PrettyOptions): PrettyStream => (createRequire(import.meta.url)('pino-pretty') as (options: PrettyOptions) => PrettyStream)(options)

const levelOf = (level: Config['logLevel']): pino.Level => (level === 'silent' ? 'fatal' : level)

export function createLogger(config: Pick<Config, 'logLevel' | 'logFile'> & Partial<Pick<Config, 'logFormat'>>, options: LoggerOptions | string = {}): Logger {
  const { name = 'schools', console: consoleName = 'stdout', consoleLevel = config.logLevel } = typeof options === 'string' ? { name: options } : options
  const destination = consoleName === 'stderr' ? process.stderr : process.stdout
  const consoleStream = config.logFormat === 'pretty'
    ? pretty({ destination, colorize: Boolean(destination.isTTY), translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'", ignore: 'hostname', singleLine: true, sync: true })
    : destination
  const streams: pino.StreamEntry[] = [{ level: levelOf(consoleLevel), stream: consoleStream }]
  if (config.logFile) {
    mkdirSync(path.dirname(config.logFile), { recursive: true })
    streams.push({ level: levelOf(config.logLevel), stream: pino.destination({ dest: config.logFile, sync: false, mkdir: true }) })
  }
  // The logger's own level is the lower of the two, so each stream filters for itself.
  const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
  const lowest = order[Math.min(order.indexOf(levelOf(config.logLevel)), order.indexOf(levelOf(consoleLevel)))]!
  return pino({
    name,
    level: config.logLevel === 'silent' && consoleLevel === 'silent' ? 'silent' : lowest,
    redact: { paths: ['req.headers.authorization', 'adminToken', '*.adminToken', 'token'], censor: '[REDACTED]' },
    hooks: { streamWrite: scrub },
  }, pino.multistream(streams))
}
