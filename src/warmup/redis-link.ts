// The BullMQ scheduler's view of Redis: one connection (the queue's) whose state says whether
// the shared queue can be used right now, and one log line per change of that state. Redis
// being down is a state, not an error per retry: while it lasts the queue's, worker's and
// event stream's reconnect errors are not logged again, and when Redis answers the owner is
// told (onUp) so it can register its jobs and start its worker.
import { Redis } from 'ioredis'
import { errorMessage, type WarmupLogger } from './logger.ts'

export type LinkState = 'connecting' | 'up' | 'down'

export interface RedisLinkOptions {
  url: string
  logger: WarmupLogger
  /** Named in the log lines, e.g. 'scheduler (bullmq)'. */
  what: string
  /** Called on every transition to up: `reconnected` is false for the first connect, true after an outage. */
  onUp: (reconnected: boolean) => void
  commandTimeoutMs?: number
}

export class RedisLink {
  readonly connection: Redis
  readonly #options: RedisLinkOptions
  #state: LinkState = 'connecting'
  /** Messages logged while up, so an error repeated by a retry loop is logged once. */
  readonly #logged = new Set<string>()
  readonly #waiters = new Set<(up: boolean) => void>()
  #closed = false

  constructor(options: RedisLinkOptions) {
    this.#options = options
    this.connection = new Redis(options.url, {
      // A command while Redis is away fails at once (the caller then runs locally or answers
      // 503) instead of waiting in a queue; one that hangs is cut off by the timeout.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 5000,
      connectTimeout: 5000,
      // Reconnect forever, at most every two seconds: the scheduler recovers by itself.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    })
    this.connection.on('ready', () => this.#transition('up'))
    this.connection.on('error', (error) => this.#transition('down', error))
    this.connection.on('close', () => {
      if (this.#state === 'up') this.#transition('down')
    })
  }

  get state(): LinkState {
    return this.#state
  }

  get up(): boolean {
    return this.#state === 'up'
  }

  /** True once up; false at the first failed attempt or after `timeoutMs`. Never rejects. */
  firstOutcome(timeoutMs: number): Promise<boolean> {
    if (this.#state !== 'connecting') return Promise.resolve(this.up)
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs)
      const done = (up: boolean): void => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve(up)
      }
      this.#waiters.add(done)
    })
  }

  /** An error from another connection of the same Redis (worker, queue events): logged once per state. */
  noteError(source: string, error: unknown): void {
    if (this.#state !== 'up') return
    const message = `${source}: ${errorMessage(error)}`
    if (this.#logged.has(message)) return
    if (this.#logged.size < 100) this.#logged.add(message)
    this.#options.logger.warn({ source, error: errorMessage(error) }, `${this.#options.what} Redis error (${message}); logged once until Redis reconnects`)
  }

  /** Disconnects quietly: the end of the connection is not an outage to report. */
  close(): void {
    this.#closed = true
    for (const waiter of [...this.#waiters]) waiter(false)
    this.connection.disconnect()
  }

  #transition(next: 'up' | 'down', error?: unknown): void {
    if (this.#closed) return
    const previous = this.#state
    if (previous === next) return
    this.#state = next
    this.#logged.clear()
    for (const waiter of [...this.#waiters]) waiter(next === 'up')
    const { logger, what, url } = this.#options
    const where = redactUrl(url)
    if (next === 'down') {
      logger.warn({ redis: where, error: error === undefined ? 'connection closed' : errorMessage(error) }, `${what}: Redis at ${where} is unreachable (${error === undefined ? 'connection closed' : errorMessage(error)}); manual warmups run in this process and jobs are registered when it answers`)
      return
    }
    logger.info({ redis: where }, `${what}: Redis at ${where} ${previous === 'down' ? 'is reachable again' : 'connected'}`)
    this.#options.onUp(previous === 'down')
  }
}

/** The URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'redis'
  }
}
