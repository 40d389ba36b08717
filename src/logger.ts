// pino, Fastify's logger, writing JSON lines to stdout and to the log file.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import pino, { type Logger } from 'pino'
import type { Config } from './config.ts'

export type { Logger }

export function createLogger(config: Pick<Config, 'logLevel' | 'logFile'>, name = 'schools'): Logger {
  const streams: pino.StreamEntry[] = [{ level: config.logLevel === 'silent' ? 'fatal' : config.logLevel, stream: process.stdout }]
  if (config.logFile) {
    mkdirSync(path.dirname(config.logFile), { recursive: true })
    streams.push({ level: config.logLevel === 'silent' ? 'fatal' : config.logLevel, stream: pino.destination({ dest: config.logFile, sync: false, mkdir: true }) })
  }
  return pino({ name, level: config.logLevel, redact: ['req.headers.authorization'] }, pino.multistream(streams))
}
