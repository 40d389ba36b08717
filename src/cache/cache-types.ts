// The public shapes of the response cache: policies, options, results and statistics.
import type { Logger } from '../logger.ts'
import type { AdmissionCounts, AdmissionOptions } from './admission.ts'
import type { CacheEntry } from './cache-entry.ts'
import type { CacheState, RequestCounts } from './cache-events.ts'
import type { LoadLimiterCounts, LoadLimits } from './load-limiter.ts'
import type { MemoryLru } from './memory-layer.ts'
import type { Redis } from 'ioredis'

/** A TTL class, e.g. `{ name: 'list', ttlSeconds: 300, graceSeconds: 86400 }`. */
export interface CachePolicy {
  /** Names the class in events and metrics. */
  readonly name: string
  /** How long a value is fresh. */
  readonly ttlSeconds: number
  /** How long past its TTL a value may still be served while the loader fails or reloads. 0: never (the key goes cold). */
  readonly graceSeconds: number
  /** Unbounded key spaces (free-text search): kept in a small per-process LRU, never in Redis. */
  readonly localOnly?: boolean
}

export interface CacheResult {
  entry: CacheEntry
  state: CacheState
}

export interface ResponseCacheOptions {
  /**
   * The deployment's Redis prefix. The cache keeps its keys under `<prefix>:cache:` (see
   * `redisKeyPrefix`) and clear() deletes only those, so BullMQ and others may share the prefix.
   */
  prefix: string
  /** Without one the cache is memory only. */
  redisUrl?: string | undefined
  /** false: no L1, every read goes to Redis. Ignored without Redis (memory is then the only layer). Default true. */
  l1?: boolean
  /** Default 20 000. */
  l1MaxItems?: number
  /** Bound on L1 memory in bytes (a Buffer's length, a string's UTF-16 size). Default 256 MiB. */
  l1MaxBytes?: number
  /** Default 1000. */
  localOnlyMaxItems?: number
  /** Default 32 MiB. */
  localOnlyMaxBytes?: number
  /** How long a value that expire()/expireAll() invalidated stays in Redis as a fallback. Default 86 400. */
  invalidatedGraceSeconds?: number
  /** Longest wait for one Redis command before it counts as a failure. Default 1000. */
  redisCommandTimeoutMs?: number
  /** Default 2000; also how long ready() waits. */
  redisConnectTimeoutMs?: number
  /**
   * While Redis is unreachable, L1 copies are expired this often (default 30 s): no invalidation
   * from other instances can arrive, so none is trusted for longer.
   */
  outageL1Seconds?: number
  /** After a Redis failure, how long L2 is skipped without trying (bentocache's circuit breaker). Default 2000. */
  redisCircuitBreakerMs?: number
  /**
   * After a background reload fails, how long the key's later reads skip the loader (serving
   * stale, or for a key with no value left, failing with the same error). Without it, a loader
   * that fails fast (database refusing connections) would run once per request. Default 5000.
   */
  refreshFailureBackoffMs?: number
  /** Told about Redis being lost and back (once per change) and about failed background reloads. */
  logger?: Logger
  /**
   * Which keys may enter the shared tier (admission.ts). Without it every key is admitted (the
   * shared tier then grows with the valid key space); the server always sets it.
   */
  admission?: AdmissionOptions
  /** Longest life of a key kept out of the shared tier, in the local store. Default 60. */
  probationSeconds?: number
  /** Bounds on concurrent loads for reads (load-limiter.ts); refresh() is not bounded by it. Default: none. */
  loadLimits?: LoadLimits
  /** How often the Redis keys are counted in the background for stats(). Default 60; 0: only on sampleKeyCount(). */
  keyCountIntervalSeconds?: number
}

export interface CacheStatus {
  backend: 'memory' | 'redis'
  /** Whether this instance keeps an in-process L1 for shared keys. */
  l1: boolean
  /**
   * Whether the L2 connection is up right now (undefined without Redis). A Redis that is
   * connected but has stopped answering still counts as reachable; its commands time out.
   */
  redisReachable?: boolean
}

/** Constant-time figures: nothing here is counted by walking the keys when stats() is called. */
export interface CacheStats extends CacheStatus, RequestCounts {
  /** Approximate number of stored keys: Redis keys under the prefix (L1 entries without Redis) plus local-only entries. */
  keys: number
  l1Keys: number
  /** L1 size in bytes (a Buffer's length, a string's UTF-16 size). */
  l1Bytes: number
  /** The local store: local-only policies and keys not admitted to the shared tier. */
  localOnlyKeys: number
  /** From the last background count (SCAN), at most keyCountIntervalSeconds old; undefined before the first or without Redis. */
  redisKeys?: number
  /** When redisKeys was counted (ISO time). */
  redisKeysCountedAt?: string
  /** L1 plus local-only LRU size in bytes (a Buffer's length, a string's UTF-16 size). */
  memoryBytes: number
  admission?: AdmissionCounts
  loads?: LoadLimiterCounts
}

/** stats() from its parts (kept here so response-cache.ts stays about composing them). */
export function cacheStats(status: CacheStatus, requests: RequestCounts, layers: { sharedL1: MemoryLru | undefined; localL1: MemoryLru }, sample: { keys: number; at: number } | undefined, admission: AdmissionCounts | undefined, loads: LoadLimiterCounts | undefined): CacheStats {
  const { sharedL1, localL1 } = layers
  const l1Keys = sharedL1?.size ?? 0
  const localOnlyKeys = localL1.size
  return {
    ...status,
    ...requests,
    keys: (sample?.keys ?? l1Keys) + localOnlyKeys,
    l1Keys,
    l1Bytes: sharedL1?.calculatedSize ?? 0,
    localOnlyKeys,
    ...(sample ? { redisKeys: sample.keys, redisKeysCountedAt: new Date(sample.at).toISOString() } : {}),
    memoryBytes: (sharedL1?.calculatedSize ?? 0) + localL1.calculatedSize,
    ...(admission ? { admission } : {}),
    ...(loads ? { loads } : {}),
  }
}

interface StatusParts {
  redis: Redis | undefined
  sharedL1: MemoryLru | undefined
}

/** health() of a cache with these layers: not ok while Redis is configured but unreachable. */
export function cacheHealth({ redis, sharedL1 }: StatusParts): { ok: boolean; detail?: string } {
  if (!redis) return { ok: true, detail: 'memory only' }
  return redis.status === 'ready'
    ? { ok: true, detail: sharedL1 ? 'memory + redis' : 'redis (no L1)' }
    : { ok: false, detail: `redis ${redis.status}; serving from memory and loaders` }
}

/** status() of a cache with these layers. */
export function cacheStatus({ redis, sharedL1 }: StatusParts): CacheStatus {
  return { backend: redis ? 'redis' : 'memory', l1: sharedL1 !== undefined, ...(redis ? { redisReachable: redis.status === 'ready' } : {}) }
}
