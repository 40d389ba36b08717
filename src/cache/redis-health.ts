// Watches the L2 connection and reacts to Redis being lost and back, once per change.
//
// While Redis is unreachable no invalidation from other instances can arrive, so L1 copies
// fall back to a short life: every `outageL1Ms` they are expired (`expireLocalCopies`), and
// each is reloaded (in the background, the old value still served) on its next read. When
// Redis answers again, everything is expired, Redis included (`expireEverything`): Redis still
// holds what it had before the outage, and an invalidation or refresh made meanwhile never
// reached it. That runs once bentocache's circuit breaker has closed again, so that the
// reloads reach Redis.
import type { Redis } from 'ioredis'
import type { Logger } from '../logger.ts'

export interface RedisHealthOptions {
  outageL1Ms: number
  circuitBreakerMs: number
  expireLocalCopies: () => void
  expireEverything: () => Promise<unknown>
  logger?: Logger | undefined
}

export class RedisHealth {
  readonly #options: RedisHealthOptions
  /** Last reported reachability; undefined until the first connect or error. */
  #reachable: boolean | undefined
  #reexpiryTimer: NodeJS.Timeout | undefined
  #outageTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: RedisHealthOptions) {
    this.#options = options
  }

  /** Subscribes to `redis`'s events; `error` events are passed to changed(false) by the owner. */
  watch(redis: Redis): void {
    redis.on('ready', () => {
      const recovering = this.#reachable === false
      this.changed(true)
      if (!recovering) return
      clearTimeout(this.#reexpiryTimer)
      this.#reexpiryTimer = setTimeout(() => {
        this.#reexpiryTimer = undefined
        this.#options.expireEverything().catch((error: unknown) => this.#options.logger?.warn({ err: error }, 'cache: could not expire entries after Redis came back'))
      }, this.#options.circuitBreakerMs + 100).unref()
    })
    redis.on('close', () => this.changed(false))
  }

  /** Reachable, and past the wait after an outage before everything is expired (until then Redis may hold values invalidated meanwhile). */
  get settled(): boolean {
    return this.#reachable === true && this.#reexpiryTimer === undefined && !this.#closed
  }

  changed(reachable: boolean, error?: Error): void {
    if (reachable === this.#reachable || this.#closed) return
    this.#reachable = reachable
    clearInterval(this.#outageTimer)
    this.#outageTimer = undefined
    if (reachable) {
      this.#options.logger?.info('cache: Redis reachable')
      return
    }
    this.#options.logger?.warn({ err: error }, 'cache: Redis unreachable; serving from L1 and loaders')
    this.#outageTimer = setInterval(() => this.#options.expireLocalCopies(), this.#options.outageL1Ms).unref()
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#reexpiryTimer)
    clearInterval(this.#outageTimer)
  }
}
