// expireAll(): marks every key this instance can see as expired (old value kept and served
// stale while it reloads), in the shared tier and the local store, a bounded number at a time.
//
// It never extends a key's life: bentocache's expire() rewrites a Redis value with the store's
// full grace (24 h), which would give any key another day at every clear-and-warmup, import or
// Redis recovery. Here each Redis key is expired with its own remaining physical TTL (PTTL), so
// it still disappears when it would have; only a warmup or a read that reloads it writes it
// again with a new life.
import type { CacheProvider } from 'bentocache/types'
import { CacheBusMessageType } from 'bentocache/types'
import type { Redis } from 'ioredis'
import pLimit from 'p-limit'
import type { Logger } from '../logger.ts'
import { keysInLru, type MemoryLru } from './memory-layer.ts'
import type { RedisBusTransport } from './redis-bus-transport.ts'
import { scanKeys } from './redis-connections.ts'

/** Keys expired at once (one or two Redis round trips each). */
const EXPIRE_CONCURRENCY = 32

export interface BulkExpiryParts {
  shared: CacheProvider
  local: CacheProvider
  sharedL1: MemoryLru | undefined
  localL1: MemoryLru
  prefix: string
  localPrefix: string
  redis: Redis | undefined
  /** Present with L1 and Redis: the only configuration with two copies to keep in step. */
  bus: RedisBusTransport | undefined
  logger?: Logger | undefined
}

/** bentocache reads `grace` on expire() too (the physical TTL it writes), though its type omits it. */
export type ExpireWithGrace = Parameters<CacheProvider['expire']>[0] & { grace?: number }

/**
 * bentocache's expire() of one shared key, safe against a read of it on this instance meanwhile.
 * bentocache marks the L1 copy expired first and rewrites Redis after (a GET, then a SET); a read
 * in between finds its L1 copy expired and Redis not yet, and copies Redis's still-fresh value
 * back into L1 as fresh. The bus tells only the other instances, so this one would serve the old
 * value for the rest of its TTL. Hence a second expiry of the L1 copy once Redis is rewritten: such
 * a read's GET was answered before the SET on the one connection, and a turn of the event loop
 * later its copy is in L1. A copy loaded since is only read again from Redis, not reloaded.
 */
export async function expireSharedKey(parts: Pick<BulkExpiryParts, 'shared' | 'bus' | 'prefix'>, options: ExpireWithGrace): Promise<void> {
  await parts.shared.expire(options)
  if (!parts.bus) return
  await new Promise((resolve) => setImmediate(resolve))
  parts.bus.deliverToCache({ type: CacheBusMessageType.Expire, keys: [options.key], namespace: parts.prefix })
}

export async function expireAllKeys(parts: BulkExpiryParts): Promise<number> {
  const sharedKeys = new Set(keysInLru(parts.sharedL1, parts.prefix))
  const redis = parts.redis?.status === 'ready' ? parts.redis : undefined
  if (redis) {
    try {
      for await (const key of scanKeys(redis, parts.prefix)) sharedKeys.add(key)
    } catch (error) {
      parts.logger?.warn({ err: error }, 'cache: could not list Redis keys to expire; expiring L1 only')
    }
  }
  const limit = pLimit(EXPIRE_CONCURRENCY)
  await Promise.all([
    ...[...sharedKeys].map((key) => limit(async () => {
      const remainingMs = redis ? await redis.pttl(`${parts.prefix}:${key}`).catch(() => -2) : -2
      // -2: not in Redis (an L1 copy only), -1: no TTL (not written by this cache): expire L1 only.
      const options: ExpireWithGrace = remainingMs > 0 ? { key, grace: remainingMs } : { key, grace: 1 }
      await expireSharedKey(parts, options)
    })),
    expireLocalKeys(parts, limit),
  ])
  return sharedKeys.size + keysInLru(parts.localL1, parts.localPrefix).length
}

/**
 * expire() for every entry of the local store (searches, keys not admitted): part of
 * expireAllKeys, and what another instance does when told on the bus that one expired everything.
 */
export async function expireLocalKeys(parts: Pick<BulkExpiryParts, 'local' | 'localL1' | 'localPrefix'>, limit = pLimit(EXPIRE_CONCURRENCY)): Promise<number> {
  const keys = keysInLru(parts.localL1, parts.localPrefix)
  await Promise.all(keys.map((key) => limit(() => parts.local.expire({ key }))))
  return keys.length
}
