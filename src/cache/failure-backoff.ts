// After a background reload fails, the key's loader is not run again for a while: reads get
// the stale value (or, for a key with nothing left, the same error) instead of hammering a
// database that refuses connections once per request.
import { LRUCache } from 'lru-cache'

export class FailureBackoff {
  readonly #recent: LRUCache<string, { error: unknown }>

  constructor(backoffMs: number) {
    this.#recent = new LRUCache({ max: 10_000, ttl: Math.max(1, backoffMs), ttlAutopurge: false })
  }

  /** The error of `key`'s last failed background reload, while its backoff lasts. */
  recent(key: string): unknown {
    return this.#recent.get(key)?.error
  }

  /** Records a failure; returns false when it is the backoff's own error coming back (not a new failure). */
  record(key: string, error: unknown): boolean {
    if (this.#recent.get(key)?.error === error) return false
    this.#recent.set(key, { error })
    return true
  }

  forget(key: string): void {
    this.#recent.delete(key)
  }

  clear(): void {
    this.#recent.clear()
  }
}
