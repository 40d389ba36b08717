// Renewing a stored value instead of loading it again (docs/generations.md). A warmup that finds
// a key's value built from the current data generation, not invalidated and not past its clock
// deadline, gives it a new life: only the small header (creation time, logical expiry) is
// rewritten, in Redis by a script that checks the header is still the one read (so a value
// another instance wrote meanwhile is never overwritten with an older one), and in this
// instance's L1. No query, no serialising, hashing or compressing; one small Redis round trip
// (two when this instance holds no copy). The new header is nearly always as long as the old
// one, and is then written over it, in Redis (SETRANGE) and in L1: the bodies are not copied,
// so a renewal leaves no garbage the size of its value behind.
//
// Other instances' L1 copies keep their old logical expiry; when it passes, bentocache reads
// the renewed value from Redis (a stale L1 copy is checked against L2 before any reload).
import type { Redis } from 'ioredis'
import type { CacheEntry } from './cache-entry.ts'
import type { CachePolicy } from './cache-types.ts'
import { entryOfHeader, headerOf, renewInPlace, withNewLife } from './entry-serializer.ts'
import type { MemoryLru } from './memory-layer.ts'
import { policyTiming } from './policy-timing.ts'

/** Enough for any header this cache writes (ETag, times, lengths, stamp: about 250 bytes). */
const HEADER_READ_BYTES = 1024

// KEYS[1]: the key; ARGV: the header read, the new header, the physical TTL in ms.
const RENEW_SCRIPT = `
local head = redis.call('GETRANGE', KEYS[1], 0, string.len(ARGV[1]) - 1)
if head ~= ARGV[1] then return 0 end
if string.len(ARGV[2]) == string.len(ARGV[1]) then
  redis.call('SETRANGE', KEYS[1], 0, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
local value = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2] .. string.sub(value, string.len(ARGV[1]) + 1), 'PX', ARGV[3])
return 1`

interface Life {
  now: number
  ttl: number
  physicalMs: number
  generation: number
}

type RenewingRedis = Redis & { renewCacheEntry(key: string, oldHeader: Buffer, newHeader: Buffer, ttlMs: number): Promise<number> }

/** Whether a stored entry is what a load would produce now (docs/generations.md). */
export function isReusable(entry: CacheEntry, generation: number | undefined, now: number = Date.now()): boolean {
  const { stamp } = entry
  return generation !== undefined && stamp.generation === generation && stamp.invalidated !== true && (stamp.validUntil === undefined || now < stamp.validUntil)
}

export class EntryRenewal {
  readonly #redis: RenewingRedis | undefined

  /**
   * `rewritten(key)` is told when L1's copy of `key` was renewed in place (the same Buffer with a
   * new header): a parse cached for that Buffer is out of date.
   */
  constructor(redis: Redis | undefined, private readonly sharedL1: MemoryLru | undefined, private readonly prefix: string, private readonly rewritten: (key: string) => void = () => {}) {
    if (redis) {
      redis.defineCommand('renewCacheEntry', { numberOfKeys: 1, lua: RENEW_SCRIPT })
      this.#redis = redis as RenewingRedis
    }
  }

  /**
   * Renews `key` if its stored value is reusable for `generation`. False when it has to be
   * loaded: no value, another generation, invalidated, past its deadline, Redis unreachable, or
   * changed meanwhile. Never throws for Redis trouble.
   */
  async renew(key: string, policy: CachePolicy, generation: number | undefined): Promise<boolean> {
    if (generation === undefined) return false
    const now = Date.now()
    const { ttl, grace } = policyTiming(policy)
    const life: Life = { now, ttl, physicalMs: grace === false ? ttl : grace, generation }
    const fullKey = `${this.prefix}:${key}`
    const local = this.sharedL1?.get(fullKey)
    const localHeader = local === undefined || typeof local === 'string' ? undefined : headerOf(local)
    const redis = this.#redis
    if (!redis) return localHeader !== undefined && this.#renewL1(key, localHeader, life)
    if (redis.status !== 'ready') return false
    // The usual case, one round trip: this instance's copy is reusable and Redis holds the very
    // same header (the script checks). Otherwise Redis is the shared truth: its header is read.
    if (localHeader && (await this.#renewInRedis(redis, fullKey, localHeader, life))) return this.#renewL1(key, localHeader, life)
    let header: Buffer | undefined
    try {
      header = headerOf(await redis.getrangeBuffer(fullKey, 0, HEADER_READ_BYTES - 1))
    } catch {
      return false
    }
    if (!header || !(await this.#renewInRedis(redis, fullKey, header, life))) return false
    this.#renewL1(key, header, life)
    return true
  }

  /** The new times of `stored` (a header alone, or a whole copy, full or compact), if its entry is reusable. */
  #newLife(stored: Buffer, life: Life): { createdAt: number; logicalExpiration: number } | undefined {
    const entry = entryOfHeader(stored)
    if (!entry || !isReusable(entry, life.generation, life.now)) return undefined
    return { createdAt: life.now, logicalExpiration: Math.min(life.now + life.ttl, entry.stamp.validUntil ?? Number.POSITIVE_INFINITY) }
  }

  async #renewInRedis(redis: RenewingRedis, fullKey: string, header: Buffer, life: Life): Promise<boolean> {
    const times = this.#newLife(header, life)
    const newHeader = times && withNewLife(header, times.createdAt, times.logicalExpiration)
    if (!newHeader) return false
    try {
      return (await redis.renewCacheEntry(fullKey, header, newHeader, life.physicalMs)) === 1
    } catch {
      return false
    }
  }

  /**
   * Gives this instance's L1 copy the new life if it is the copy `header` belongs to (and, without
   * Redis, reusable); drops a different copy (Redis has the truth). True when the copy was renewed.
   */
  #renewL1(key: string, header: Buffer, life: Life): boolean {
    const lru = this.sharedL1
    const fullKey = `${this.prefix}:${key}`
    const local = lru?.get(fullKey)
    if (!lru || local === undefined) return this.#redis !== undefined
    if (typeof local === 'string' || !headerOf(local)?.equals(header)) {
      lru.delete(fullKey)
      return this.#redis !== undefined
    }
    const times = this.#newLife(local, life)
    if (!times) return false
    if (renewInPlace(local, times.createdAt, times.logicalExpiration)) {
      this.rewritten(key)
      lru.set(fullKey, local, { ttl: life.physicalMs })
      return true
    }
    const renewed = withNewLife(local, times.createdAt, times.logicalExpiration)
    if (!renewed) return false
    lru.set(fullKey, renewed, { ttl: life.physicalMs })
    return true
  }
}
