// Moves this instance's request statistics into the shared table every interval (a minute by
// default), prunes buckets past their retention about once an hour, and lets the owner refresh
// what it needs on the same beat (the warm set). A failing database costs the counts of that
// interval (statistics, not data) and one log line per change of state, never a request.
import type { RequestStatistics } from './request-stats.ts'
import type { RequestStatsStore } from './stats-store.ts'
import { HOUR_MS } from './stats-store.ts'

export interface StatsFlusherLogger {
  info(object: object, message: string): void
  warn(object: object, message: string): void
}

export interface StatsFlusherOptions {
  stats: RequestStatistics
  store: RequestStatsStore
  intervalMs: number
  retentionDays: number
  logger: StatsFlusherLogger
  /** Called after each flush (errors are logged); e.g. refreshing the warm set. */
  afterFlush?: () => Promise<void>
  now?: () => number
}

export class StatsFlusher {
  #timer: NodeJS.Timeout | undefined
  #lastPrune = 0
  #failing = false
  #flushing: Promise<void> | undefined
  readonly #now: () => number

  constructor(private readonly options: StatsFlusherOptions) {
    this.#now = options.now ?? Date.now
  }

  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => void this.flush(), this.options.intervalMs)
    this.#timer.unref()
  }

  /** Writes the counts gathered since the last flush. Never rejects; concurrent calls share one flush. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #flush(): Promise<void> {
    const { stats, store, logger } = this.options
    const batch = stats.takeBatch()
    const now = this.#now()
    try {
      await store.add(batch, now)
      if (now - this.#lastPrune >= HOUR_MS) {
        await store.prune(this.options.retentionDays, now)
        this.#lastPrune = now
      }
      if (this.#failing) logger.info({}, 'request statistics are written again')
      this.#failing = false
    } catch (error) {
      if (!this.#failing) logger.warn({ err: error }, `request statistics not written (counts of this interval dropped): ${error instanceof Error ? error.message : String(error)}`)
      this.#failing = true
    }
    try {
      await this.options.afterFlush?.()
    } catch (error) {
      logger.warn({ err: error }, `request statistics: refresh after flush failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    await this.flush()
  }
}
