// Load shedding: at most `concurrency` loads (database reads behind cache misses) run at once;
// up to `maxQueue` more wait, each at most `maxWaitMs`; anything beyond is refused at once with
// BusyError (503 E_BUSY with retry-after). Cache hits never come here, so a burst of distinct
// cold queries cannot make warm reads wait behind it. A load started by another load (a list
// loader reading the cached filter options) runs at once: queueing it behind its own parent
// could only deadlock until the wait ran out.
import { AsyncLocalStorage } from 'node:async_hooks'
import pLimit, { type LimitFunction } from 'p-limit'
import { BusyError } from '../errors.ts'

export interface LoadLimits {
  concurrency: number
  maxQueue: number
  maxWaitMs: number
  /** Sent as retry-after with a refusal. Default 1. */
  retryAfterSeconds?: number
}

export interface LoadLimiterCounts {
  active: number
  queued: number
  /** Refused since start (queue full or waited too long). */
  shed: number
}

export class LoadLimiter {
  readonly #limits: Required<LoadLimits>
  readonly #limit: LimitFunction
  readonly #inside = new AsyncLocalStorage<true>()
  #shed = 0
  #closed = false

  constructor(limits: LoadLimits) {
    for (const [name, value] of Object.entries({ concurrency: limits.concurrency, maxQueue: limits.maxQueue, maxWaitMs: limits.maxWaitMs })) {
      if (!Number.isInteger(value) || value < (name === 'concurrency' ? 1 : 0)) throw new RangeError(`load limit ${name} must be a ${name === 'concurrency' ? 'positive' : 'non-negative'} integer, got ${value}`)
    }
    this.#limits = { retryAfterSeconds: 1, ...limits }
    this.#limit = pLimit(limits.concurrency)
  }

  run<T>(load: () => Promise<T>): Promise<T> {
    if (this.#inside.getStore()) return load()
    if (this.#closed) return Promise.reject(this.#refuse('shutting down'))
    const limit = this.#limit
    if (limit.activeCount + limit.pendingCount >= this.#limits.concurrency + this.#limits.maxQueue) return Promise.reject(this.#refuse('queue full'))
    let timer: NodeJS.Timeout | undefined
    let abandoned = false
    const started = limit(() => {
      clearTimeout(timer)
      // A request that gave up waiting frees its turn at once.
      if (abandoned) return Promise.resolve(undefined as T)
      // Shutting down: the database is about to close, so a queued load is refused, not started.
      if (this.#closed) return Promise.reject(this.#refuse('shutting down'))
      return this.#inside.run(true, load)
    })
    if (limit.activeCount + limit.pendingCount <= this.#limits.concurrency) return started
    const gaveUp = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        abandoned = true
        reject(this.#refuse('waited too long'))
      }, this.#limits.maxWaitMs)
    })
    return Promise.race([started, gaveUp])
  }

  /** Refuses every load not yet started (queued or new); loads already running finish. */
  close(): void {
    this.#closed = true
  }

  counts(): LoadLimiterCounts {
    return { active: this.#limit.activeCount, queued: this.#limit.pendingCount, shed: this.#shed }
  }

  #refuse(reason: string): BusyError {
    this.#shed += 1
    return new BusyError(this.#limits.retryAfterSeconds, { reason, ...this.counts() })
  }
}
