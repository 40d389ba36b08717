// The hot path of an instance without L1 (CACHE_L1=false): a key's fresh value read straight from
// Redis as bytes (GETBUFFER) and sent as they are, the Redis counterpart of l1-fast-path.ts.
// Through bentocache the same hit costs about twice the CPU: it builds its per-call options
// (a dozen closures and an id) and its promise chain on every call (`npm run bench`, "Redis
// only"). Anything else (no value, a value past its TTL, Redis not settled) goes through
// bentocache, which serves grace, reloads under its lock and applies its circuit breaker.
import type { Redis } from 'ioredis'
import { CacheEntry } from './cache-entry.ts'
import { entrySerializer, isStoredEntryExpired } from './entry-serializer.ts'

export class RedisFastPath {
  /**
   * `settled`: Redis is reachable and not in the window after an outage in which it may still
   * hold values invalidated meanwhile (redis-health.ts); until then bentocache decides.
   */
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly settled: () => boolean) {}

  /** The fresh value of `key` in Redis, or undefined (none, past its TTL, Redis not settled, or an error). */
  async fresh(key: string): Promise<CacheEntry | undefined> {
    if (this.redis.status !== 'ready' || !this.settled()) return undefined
    let stored: Buffer | null
    try {
      stored = await this.redis.getBuffer(`${this.prefix}:${key}`)
    } catch {
      return undefined
    }
    if (stored === null) return undefined
    let entry: unknown
    try {
      entry = entrySerializer.deserialize(stored).value
    } catch {
      return undefined // bentocache's read reports it
    }
    return entry instanceof CacheEntry && !isStoredEntryExpired(entry) ? entry : undefined
  }
}
