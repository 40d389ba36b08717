// Fastify gives every request a child logger (pino's child(): its bindings serialised, the
// redaction set up), though a cached hit never logs a line. This child is made on the first log
// call instead, so requests that log nothing pay for nothing (about 3% of a warm hit's CPU,
// `npm run bench -- --profile`). Lines it writes are the same: pino's own child writes them.
import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino'

type LogMethod = 'info' | 'error' | 'debug' | 'fatal' | 'warn' | 'trace' | 'silent'

class LazyChildLogger {
  #child: FastifyBaseLogger | undefined

  constructor(private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings, private readonly options: ChildLoggerOptions) {}

  get #logger(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.options)
    return this.#child
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.parent.level
  }

  set level(level: LevelWithSilentOrString) {
    this.#logger.level = level
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, options)
  }

  #write(method: LogMethod, args: unknown[]): void {
    // A level this logger drops costs no child either.
    if (method !== 'silent' && !this.#enabled(method)) return
    ;(this.#logger[method] as (...values: unknown[]) => void)(...args)
  }

  #enabled(method: Exclude<LogMethod, 'silent'>): boolean {
    const logger = (this.#child ?? this.parent) as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }
    return logger.isLevelEnabled?.(method) ?? true
  }

  info(...args: unknown[]): void {
    this.#write('info', args)
  }

  error(...args: unknown[]): void {
    this.#write('error', args)
  }

  debug(...args: unknown[]): void {
    this.#write('debug', args)
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args)
  }

  warn(...args: unknown[]): void {
    this.#write('warn', args)
  }

  trace(...args: unknown[]): void {
    this.#write('trace', args)
  }

  silent(...args: unknown[]): void {
    this.#write('silent', args)
  }
}

/** Fastify's childLoggerFactory: request loggers whose pino child is made when they first log. */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger
}
