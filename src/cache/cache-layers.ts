// Builds the layers under the response cache with bentocache: an in-process LRU (L1) in front
// of Redis (L2, when a URL is given), with bentocache's bus over Redis pub/sub telling the other
// instances to drop or expire their L1 copy when a key changes here; and a second, small LRU
// (the local store) that never touches Redis, for local-only policies (free-text search) and for
// keys not admitted to the shared tier (admission.ts). Without Redis the shared tier is L1 only;
// L1 can be switched off so every read is a Redis round trip (the benchmark measures that path).
//
// Redis trouble degrades, never fails: L2 errors are suppressed (bentocache skips L2 for a short
// circuit-breaker window and serves from L1 or the loader), the connections fail fast and
// reconnect forever (redis-connections.ts), and the bus transport cannot crash the process
// (redis-bus-transport.ts).
import { BentoCache, bentostore, type BentoStore } from 'bentocache'
import type { CacheProvider } from 'bentocache/types'
import type { Redis } from 'ioredis'
import type { Logger } from '../logger.ts'
import type { ResponseCacheOptions } from './cache-types.ts'
import { entrySerializer } from './entry-serializer.ts'
import { bufferRedisDriver } from './buffer-redis-driver.ts'
import { memoryLayer, newMemoryLru, type MemoryLru } from './memory-layer.ts'
import { RedisBusTransport } from './redis-bus-transport.ts'
import { failFastOptions, openRedis } from './redis-connections.ts'

const MB = 1024 * 1024

export type StoreName = 'shared' | 'local'

export interface CacheLayers {
  bento: BentoCache<Record<StoreName, BentoStore>>
  shared: CacheProvider
  local: CacheProvider
  sharedL1: MemoryLru | undefined
  localL1: MemoryLru
  redis: Redis | undefined
  bus: RedisBusTransport | undefined
}

export interface LayerHooks {
  /** Redis errors and losses (the owner tracks reachability). */
  onRedisError: (error: Error) => void
  /** The bus resubscribed after an outage: L1 may have missed invalidations. */
  onBusResubscribed: () => void
  logger?: Logger | undefined
}

export function buildCacheLayers(options: ResponseCacheOptions, prefix: string, localPrefix: string, hooks: LayerHooks): CacheLayers {
  const timeouts = { commandTimeoutMs: options.redisCommandTimeoutMs ?? 1000, connectTimeoutMs: options.redisConnectTimeoutMs ?? 2000 }
  const useL1 = options.l1 !== false || !options.redisUrl
  const sharedL1 = useL1 ? newMemoryLru(options.l1MaxItems ?? 20_000, options.l1MaxBytes ?? 256 * MB) : undefined
  const localL1 = newMemoryLru(options.localOnlyMaxItems ?? 1000, options.localOnlyMaxBytes ?? 32 * MB)

  const shared = bentostore()
  if (sharedL1) shared.useL1Layer(memoryLayer(sharedL1))
  let redis: Redis | undefined
  let bus: RedisBusTransport | undefined
  if (options.redisUrl) {
    // Until the first connect, commands wait for it (each at most commandTimeout), so requests
    // made while the process starts use Redis instead of failing fast and tripping the circuit
    // breaker. After that, a lost connection fails fast. No auto-pipelining: ioredis builds a
    // Pipeline per tick for it, which cost more than the writes it saves (a Redis-only hit:
    // 102 -> 62 µs of CPU without it, `npm run bench`).
    const connection = openRedis(options.redisUrl, { ...failFastOptions(timeouts), enableOfflineQueue: true, enableAutoPipelining: false }, hooks.onRedisError)
    connection.once('ready', () => {
      connection.options.enableOfflineQueue = false
    })
    redis = connection
    shared.useL2Layer(bufferRedisDriver({ connection }))
    // The bus only keeps L1 copies in step; without L1 there is nothing to tell other instances.
    if (sharedL1) {
      const transport = new RedisBusTransport({
        url: options.redisUrl,
        channelPrefix: prefix,
        timeouts,
        onError: (error) => hooks.logger?.debug({ err: error }, 'cache bus: Redis error'),
        onResubscribed: hooks.onBusResubscribed,
      })
      bus = transport
      shared.useBus({ options: { retryQueue: { enabled: true, maxSize: 10_000 } }, factory: () => transport })
    }
  }

  const bento = new BentoCache({
    default: 'shared',
    stores: { shared, local: bentostore({ prefix: localPrefix }).useL1Layer(memoryLayer(localL1)) },
    prefix,
    // Bodies are stored as they are, not escaped into a JSON envelope: see entry-serializer.ts.
    serializer: entrySerializer,
    // Per-call options override these; they apply to expire(), which takes no TTLs.
    grace: (options.invalidatedGraceSeconds ?? 86_400) * 1000,
    timeout: 0,
    // Also with L1 off: a Redis failure must become a cache miss, never the caller's error.
    suppressL2Errors: true,
    l2CircuitBreakerDuration: options.redisCircuitBreakerMs ?? 2000,
  })
  // Created now rather than on first use, so the bus subscribes at start.
  return { bento, shared: bento.use('shared'), local: bento.use('local'), sharedL1, localL1, redis, bus }
}
