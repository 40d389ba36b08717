// What the response-cache contract suites share (response-cache.contract.ts, and the admission
// contract): the configurations they run against, their policies, and caches that clean up after
// themselves: each test's caches get a prefix of their own, and after the test their keys are
// cleared (Redis included) and their connections closed.
import { after, afterEach, before, mock } from 'node:test'
import type { Redis } from 'ioredis'
import { createResponseCache, type CachePolicy, type ResponseCache, type ResponseCacheOptions } from '../../src/cache/response-cache.ts'
import { uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'

export interface ContractConfiguration {
  name: string
  /** What every cache of this configuration gets (redisUrl, l1 ...). */
  options: Partial<ResponseCacheOptions>
  /** Set when the configuration stores in Redis: the suite then also looks at Redis directly. */
  redisUrl?: string
}

export const list: CachePolicy = { name: 'list', ttlSeconds: 60, graceSeconds: 3600 }
/** One-second TTL, so tests can watch a value go stale. */
export const shortLived: CachePolicy = { name: 'short', ttlSeconds: 1, graceSeconds: 3600 }
export const search: CachePolicy = { name: 'search', ttlSeconds: 60, graceSeconds: 60, localOnly: true }

export const body = (value: unknown): string => JSON.stringify(value)

/**
 * Moves the clock (Date only: timers, sockets and lru-cache's performance.now keep real time)
 * well past the entry's TTL instead of waiting for it: bentocache starts the TTL when it writes,
 * a moment after the loader stamped storedAt, and on a loaded machine that moment has no bound.
 * The clock stays there (frozen) for the rest of the test; afterEach puts it back.
 */
export const pastTtl = async (entry: { storedAt: number }, policy: CachePolicy): Promise<void> => {
  mock.timers.enable({ apis: ['Date'], now: Math.max(Date.now(), entry.storedAt + policy.ttlSeconds * 1000) + 30_000 })
}

export interface ContractCaches {
  /** A cache of the configuration (options may override), closed and emptied after the test. */
  open(overrides?: Partial<ResponseCacheOptions>): Promise<ResponseCache>
  /** A plain Redis client when the configuration has Redis (set once the suite has started). */
  readonly raw: Redis | undefined
}

/** Call inside a describe(): registers the hooks that clean up what `open` opened. */
export function useContractCaches(configuration: ContractConfiguration): ContractCaches {
  const opened: ResponseCache[] = []
  let raw: Redis | undefined
  before(() => {
    if (configuration.redisUrl) raw = rawRedis(configuration.redisUrl)
  })
  afterEach(async () => {
    mock.timers.reset()
    for (const cache of opened.splice(0)) {
      await cache.clear()
      if (raw) await deleteKeysUnder(raw, cache.redisKeyPrefix)
      await cache.close()
    }
  })
  after(() => {
    raw?.disconnect()
  })
  return {
    async open(overrides = {}) {
      const cache = await createResponseCache({ prefix: uniqueName('cache_contract'), ...configuration.options, ...overrides })
      opened.push(cache)
      return cache
    },
    get raw() {
      return raw
    },
  }
}
