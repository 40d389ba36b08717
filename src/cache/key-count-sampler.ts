// The number of this cache's keys in Redis, counted in one background task at most every
// `intervalMs` (a SCAN, the only way to count keys under a prefix in a shared Redis), so that
// reading the figure (every /metrics scrape, the admin status) costs nothing and never touches
// Redis. Counts never overlap: a slow SCAN delays the next one instead of piling up.
import type { Redis } from 'ioredis'
import type { Logger } from '../logger.ts'
import { countKeys } from './redis-connections.ts'

export interface KeyCountSample {
  keys: number
  /** Epoch milliseconds of the count. */
  at: number
}

export class KeyCountSampler {
  #latest: KeyCountSample | undefined
  #running: Promise<KeyCountSample | undefined> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(private readonly redis: Redis, private readonly prefix: string, intervalMs: number, private readonly logger?: Logger) {
    if (intervalMs > 0) {
      this.#timer = setInterval(() => {
        void this.sample()
      }, intervalMs).unref()
    }
  }

  /** The last count, if any (undefined before the first one or after Redis failed it). */
  latest(): KeyCountSample | undefined {
    return this.#latest
  }

  /** Counts now (joining a count already running). Never rejects. */
  sample(): Promise<KeyCountSample | undefined> {
    if (this.redis.status !== 'ready') return Promise.resolve(this.#latest)
    this.#running ??= countKeys(this.redis, this.prefix)
      .then((keys) => {
        this.#latest = { keys, at: Date.now() }
        return this.#latest
      }, (error: unknown) => {
        this.logger?.debug({ err: error }, 'cache: could not count Redis keys')
        return this.#latest
      })
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  /** Drops the last count (everything was deleted: it no longer holds). */
  forget(): void {
    this.#latest = undefined
  }

  close(): void {
    clearInterval(this.#timer)
  }
}
