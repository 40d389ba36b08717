// Counters and listeners for what the cache answers, kept apart from the caching itself so
// the hot path only bumps a number and calls whoever subscribed (metrics, tests).

export type CacheState = 'hit' | 'miss' | 'stale'

/** Called once per getOrLoad; `policy` is the TTL class name, for per-class metrics. */
export type CacheRequestListener = (policy: string, state: CacheState, key: string) => void

export interface RequestCounts {
  hits: number
  misses: number
  stale: number
  /** Share of requests answered from the cache, fresh or stale; 0 before the first request. */
  hitRate: number
}

export class CacheRequestCounter {
  #hits = 0
  #misses = 0
  #stale = 0
  readonly #listeners = new Set<CacheRequestListener>()

  record(state: CacheState, key: string, policy: string): void {
    if (state === 'hit') this.#hits += 1
    else if (state === 'miss') this.#misses += 1
    else this.#stale += 1
    for (const listener of this.#listeners) {
      try {
        listener(policy, state, key)
      } catch {
        // A broken metrics listener must not fail the request it is counting.
      }
    }
  }

  /** Returns the function that unsubscribes. */
  on(listener: CacheRequestListener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  counts(): RequestCounts {
    const total = this.#hits + this.#misses + this.#stale
    return {
      hits: this.#hits,
      misses: this.#misses,
      stale: this.#stale,
      hitRate: total === 0 ? 0 : (this.#hits + this.#stale) / total,
    }
  }
}
