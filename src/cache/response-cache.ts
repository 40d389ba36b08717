// A response cache for serialised JSON bodies, built on bentocache. It knows nothing about
// what it caches: callers bring keys, a policy (TTL class) and a loader.
//
// Layers: an in-process LRU (L1) in front of Redis (L2, when a URL is given), with bentocache's
// bus over Redis pub/sub telling the other instances to drop or expire their L1 copy when a key
// changes here. Without Redis the cache is L1 only. L1 can be switched off so every read is a
// Redis round trip (the benchmark measures that path). Local-only policies (free-text search)
// use a second, small LRU that never touches Redis, so random queries cannot flood the shared
// cache.
//
// Never cold between warmups: stale-while-revalidate through bentocache's soft timeout 0.
// A policy's TTL is bentocache's `ttl` (logical expiry) and its grace extends past it: bentocache
// keeps a value physically for `grace` counted from the write, not from the expiry, so we pass
// `grace = ttl + graceSeconds`. With `timeout: 0`, a read that finds a value past its TTL but
// within grace returns it at once ('stale') and runs the loader in the background; the key is
// locked meanwhile, so later reads also get the stale value without waiting, and the next read
// after the reload is a hit. If the loader fails, the stale value stays and is served until its
// grace ends. (bentocache 1.x has no `earlyExpiration`, the 0.x refresh-ahead option; timeout 0
// is its replacement.) The only reads that wait for a loader are reads of keys with no value at
// all, and, with L1 on, the first reads on an instance whose L1 lacks a key that L2 holds stale.
//
// Stampedes: bentocache locks per key, in process. N concurrent misses for one key in one
// process run the loader once and the others wait for its result. Across instances nothing is
// locked: each instance may run the loader once for the same cold key at the same time.
//
// Invalidation without a cold window: expire()/expireAll() use bentocache's `expire`, which
// marks values logically expired but keeps them for their grace, so the next read gets the old
// value ('stale') and triggers one background reload. bentocache publishes each expiry on the bus
// and the other instances expire their L1 copy. delete() and clear() are hard and cold.
//
// Redis trouble degrades, never fails: L2 errors are suppressed (bentocache skips L2 for a short
// circuit-breaker window and serves from L1 or the loader), the connections fail fast and
// reconnect forever (redis-connections.ts), and the bus transport cannot crash the process
// (redis-bus-transport.ts). When Redis or the bus comes back, this instance expires every L1
// copy: it may have missed invalidations, and values loaded during the outage never reached
// Redis (which may also have restarted empty). The stale-while-revalidate reloads refill it.
import { BentoCache, bentostore, errors, type BentoStore } from 'bentocache'
import { CacheBusMessageType, type CacheProvider } from 'bentocache/types'
import type { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import type { Logger } from '../logger.ts'
import { bufferRedisDriver } from './buffer-redis-driver.ts'
import { createEntry, type CacheEntry } from './cache-entry.ts'
import { CacheRequestCounter, type CacheRequestListener, type CacheState } from './cache-events.ts'
import { entrySerializer, isStoredEntryExpired } from './entry-serializer.ts'
import type { CachePolicy, CacheResult, CacheStats, CacheStatus, ResponseCacheOptions } from './cache-types.ts'
import { keysInLru, memoryLayer, newMemoryLru, type MemoryLru, type StoredValue } from './memory-layer.ts'
import { policyTiming } from './policy-timing.ts'
import { RedisBusTransport } from './redis-bus-transport.ts'
import { countKeys, failFastOptions, openRedis, scanKeys, whenReady } from './redis-connections.ts'

export type { CacheEntry } from './cache-entry.ts'
export type { CacheRequestListener, CacheState } from './cache-events.ts'
export type { CachePolicy, CacheResult, CacheStats, CacheStatus, ResponseCacheOptions } from './cache-types.ts'

/** What a getOrLoad call's loader produced; bentocache returning this very object means 'miss'. */
interface CallRecord {
  produced?: CacheEntry
}

type StoreName = 'shared' | 'local'
type FactoryError = InstanceType<typeof errors.E_FACTORY_ERROR>

const MB = 1024 * 1024

/** bentocache wraps a loader's error in E_FACTORY_ERROR; callers get the loader's own error. */
function unwrapLoaderError(error: unknown): unknown {
  return error instanceof errors.E_FACTORY_ERROR ? error.cause : error
}

/** Runs `run` over `items`, at most `limit` at a time (thousands of keys, one Redis round trip each). */
async function forEachLimited<T>(items: Iterable<T>, limit: number, run: (item: T) => Promise<unknown>): Promise<void> {
  const iterator = items[Symbol.iterator]()
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await run(next.value)
  }
  await Promise.all(Array.from({ length: limit }, worker))
}

export class ResponseCache {
  readonly #prefix: string
  readonly #localPrefix: string
  readonly #bento: BentoCache<Record<StoreName, BentoStore>>
  readonly #shared: CacheProvider
  readonly #local: CacheProvider
  readonly #sharedL1: MemoryLru | undefined
  readonly #localL1: MemoryLru
  readonly #redis: Redis | undefined
  readonly #bus: RedisBusTransport | undefined
  readonly #connectTimeoutMs: number
  readonly #circuitBreakerMs: number
  #reexpiryTimer: NodeJS.Timeout | undefined
  /** While Redis is unreachable: expires L1 copies every `outageL1Ms` (see #redisChanged). */
  #outageTimer: NodeJS.Timeout | undefined
  readonly #outageL1Ms: number
  readonly #recentFailures: LRUCache<string, { error: unknown }>
  /**
   * The entry last parsed from each hot key's L1 copy, with the copy it came from: while the copy
   * is unchanged (the same string), a hit reuses it instead of parsing its header again (the
   * largest cost left in an L1 hit, `npm run bench -- --profile`). Bounded apart from L1.
   */
  readonly #parsedL1 = new LRUCache<string, { stored: StoredValue; entry: CacheEntry }>({ max: 5000, maxSize: 64 * MB, sizeCalculation: (parsed) => Math.max(1, typeof parsed.stored === 'string' ? parsed.stored.length * 2 : parsed.stored.byteLength) })
  readonly #requests = new CacheRequestCounter()
  readonly #logger: Logger | undefined
  /** Last reported Redis reachability; undefined until the first connect or error. */
  #redisReachable: boolean | undefined
  #closed: Promise<void> | undefined

  constructor(options: ResponseCacheOptions) {
    if (options.prefix === '' || /\s/.test(options.prefix) || options.prefix.startsWith(':') || options.prefix.endsWith(':')) {
      throw new TypeError(`Cache prefix '${options.prefix}' must be non-empty, without spaces, and not start or end with ':'`)
    }
    this.#prefix = `${options.prefix}:cache`
    this.#localPrefix = `${this.#prefix}:local-only`
    this.#logger = options.logger
    this.#connectTimeoutMs = options.redisConnectTimeoutMs ?? 2000
    this.#outageL1Ms = (options.outageL1Seconds ?? 30) * 1000
    this.#circuitBreakerMs = options.redisCircuitBreakerMs ?? 2000
    const timeouts = { commandTimeoutMs: options.redisCommandTimeoutMs ?? 1000, connectTimeoutMs: this.#connectTimeoutMs }
    const useL1 = options.l1 !== false || !options.redisUrl

    this.#sharedL1 = useL1 ? newMemoryLru(options.l1MaxItems ?? 20_000, options.l1MaxBytes ?? 256 * MB) : undefined
    this.#localL1 = newMemoryLru(options.localOnlyMaxItems ?? 1000, options.localOnlyMaxBytes ?? 32 * MB)
    const backoffMs = options.refreshFailureBackoffMs ?? 5000
    this.#recentFailures = new LRUCache({ max: 10_000, ttl: Math.max(1, backoffMs), ttlAutopurge: false })

    const shared = bentostore()
    if (this.#sharedL1) shared.useL1Layer(memoryLayer(this.#sharedL1))
    if (options.redisUrl) {
      // Until the first connect, commands wait for it (each at most commandTimeout), so requests
      // made while the process starts use Redis instead of failing fast and tripping the circuit
      // breaker. After that, a lost connection fails fast.
      const redis = openRedis(options.redisUrl, { ...failFastOptions(timeouts), enableOfflineQueue: true, enableAutoPipelining: true }, (error) => this.#redisChanged(false, error))
      redis.once('ready', () => {
        redis.options.enableOfflineQueue = false
      })
      redis.on('ready', () => {
        const recovering = this.#redisReachable === false
        this.#redisChanged(true)
        if (!recovering) return
        // Once bentocache's circuit breaker has closed again, so that the reloads reach Redis.
        // Everything is expired, Redis included: Redis still holds what it had before the outage,
        // and an invalidation or refresh made meanwhile (here or elsewhere) never reached it, so
        // its entries must not pass for fresh. Expired values are still served while they reload.
        clearTimeout(this.#reexpiryTimer)
        this.#reexpiryTimer = setTimeout(() => {
          this.expireAll().catch((error: unknown) => this.#logger?.warn({ err: error }, 'cache: could not expire entries after Redis came back'))
        }, this.#circuitBreakerMs + 100).unref()
      })
      redis.on('close', () => this.#redisChanged(false))
      this.#redis = redis
      shared.useL2Layer(bufferRedisDriver({ connection: redis }))
      // The bus only keeps L1 copies in step; without L1 there is nothing to tell other instances.
      if (this.#sharedL1) {
        const transport = new RedisBusTransport({
          url: options.redisUrl,
          channelPrefix: this.#prefix,
          timeouts,
          onError: (error) => this.#logger?.debug({ err: error }, 'cache bus: Redis error'),
          onResubscribed: () => this.#expireLocalCopies(),
        })
        this.#bus = transport
        shared.useBus({ options: { retryQueue: { enabled: true, maxSize: 10_000 } }, factory: () => transport })
      }
    }

    this.#bento = new BentoCache({
      default: 'shared',
      stores: { shared, local: bentostore({ prefix: this.#localPrefix }).useL1Layer(memoryLayer(this.#localL1)) },
      prefix: this.#prefix,
      // Bodies are stored as they are, not escaped into a JSON envelope: see entry-serializer.ts.
      serializer: entrySerializer,
      // Per-call options below override these; they apply to expire(), which takes no TTLs.
      grace: (options.invalidatedGraceSeconds ?? 86_400) * 1000,
      timeout: 0,
      // Also with L1 off: a Redis failure must become a cache miss, never the caller's error.
      suppressL2Errors: true,
      l2CircuitBreakerDuration: this.#circuitBreakerMs,
    })
    // Created now rather than on first use, so the bus subscribes at start.
    this.#shared = this.#bento.use('shared')
    this.#local = this.#bento.use('local')
  }

  /** Where this cache's keys live in Redis: `<redisKeyPrefix>:<key>`. */
  get redisKeyPrefix(): string {
    return this.#prefix
  }

  /** Resolves true once Redis is reachable, false after the connect timeout if it is not; never rejects. */
  async ready(): Promise<boolean> {
    if (!this.#redis) return true
    return whenReady(this.#redis, this.#connectTimeoutMs)
  }

  /**
   * The cached body for `key`, loading it on a miss. `state` is 'miss' when this call ran the
   * loader, 'stale' when the value served is past its TTL (a reload runs in the background, or
   * the loader failed), 'hit' otherwise. When the loader fails and no value is left to serve, its
   * error is thrown unchanged.
   */
  async getOrLoad(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<CacheResult> {
    const fresh = policy.localOnly ? undefined : this.#freshInL1(key)
    if (fresh) {
      this.#requests.record('hit', key, policy.name)
      return { entry: fresh, state: 'hit' }
    }
    const call: CallRecord = {}
    let entry: CacheEntry
    try {
      entry = await this.#provider(policy.localOnly ? 'local' : 'shared').getOrSet<CacheEntry>({
        key,
        ...policyTiming(policy),
        factory: () => this.#load(key, loader, call, false),
        onFactoryError: (error) => this.#backgroundFailed(key, policy, error),
      })
    } catch (error) {
      throw unwrapLoaderError(error)
    }
    // Anything bentocache returns besides our loader's own result was read back from L1 or
    // Redis, and carries its logical expiry: past it, bentocache served it within its grace.
    const state: CacheState = entry === call.produced ? 'miss' : isStoredEntryExpired(entry) ? 'stale' : 'hit'
    this.#requests.record(state, key, policy.name)
    return { entry, state }
  }

  /**
   * The hot path: a shared key's L1 copy, if it is there and within its TTL, read straight from
   * the LRU that bentocache's memory driver holds (the same key and format bentocache reads).
   * Going through getOrSet instead costs an L1 hit about three times as much: bentocache builds
   * its per-call options object (a dozen closures and an id) on every call (`npm run bench`,
   * read path). Anything else (no copy, a copy past its TTL, L1 off) goes through bentocache,
   * which serves grace, reloads and locks.
   */
  #freshInL1(key: string): CacheEntry | undefined {
    const stored = this.#sharedL1?.get(`${this.#prefix}:${key}`)
    if (stored === undefined) return undefined
    let parsed = this.#parsedL1.get(key)
    if (parsed?.stored !== stored) {
      parsed = { stored, entry: entrySerializer.deserialize(stored).value as CacheEntry }
      this.#parsedL1.set(key, parsed)
    }
    return isStoredEntryExpired(parsed.entry) ? undefined : parsed.entry
  }

  /**
   * Loads now and replaces the stored value (the warmup runner's call). Readers are not held up:
   * meanwhile they get the current value. If the loader fails, the stored value is left as it
   * was and the loader's error is thrown.
   */
  async refresh(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<CacheEntry> {
    try {
      return await this.#provider(policy.localOnly ? 'local' : 'shared').getOrSet<CacheEntry>({
        key,
        ...policyTiming(policy),
        forceFresh: true,
        factory: () => this.#load(key, loader, {}, true),
      })
    } catch (error) {
      throw unwrapLoaderError(error)
    }
  }

  /** Marks `key` expired but keeps it for its grace: the next read is 'stale' and reloads in the background. */
  async expire(key: string): Promise<void> {
    await Promise.all([this.#shared.expire({ key }), this.#local.expire({ key })])
  }

  /**
   * expire() for every key this instance can see: its L1 and local-only entries and every Redis
   * key under the prefix. Other instances expire the shared keys in their L1 through the bus;
   * their local-only entries simply age out within their short TTL. Returns the number of keys.
   */
  async expireAll(): Promise<number> {
    const sharedKeys = new Set(keysInLru(this.#sharedL1, this.#prefix))
    if (this.#redis?.status === 'ready') {
      try {
        for await (const key of scanKeys(this.#redis, this.#prefix)) sharedKeys.add(key)
      } catch (error) {
        this.#logger?.warn({ err: error }, 'cache: could not list Redis keys to expire; expiring L1 only')
      }
    }
    const localKeys = keysInLru(this.#localL1, this.#localPrefix)
    await forEachLimited(sharedKeys, 32, (key) => this.#shared.expire({ key }))
    await forEachLimited(localKeys, 32, (key) => this.#local.expire({ key }))
    return sharedKeys.size + localKeys.length
  }

  /** Removes `key` everywhere (L1 here and on other instances, Redis). The next read waits for the loader. */
  async delete(key: string): Promise<void> {
    this.#recentFailures.delete(key)
    await Promise.all([this.#shared.delete({ key }), this.#local.delete({ key })])
  }

  /** Removes every key, here, in Redis and in the other instances' L1. Everything is cold afterwards. */
  async clear(): Promise<void> {
    this.#recentFailures.clear()
    await Promise.all([this.#shared.clear(), this.#local.clear()])
  }

  /** For /health: not ok while Redis is configured but unreachable (reads still work, from memory and loaders). */
  health(): { ok: boolean; detail?: string } {
    if (!this.#redis) return { ok: true, detail: 'memory only' }
    return this.#redis.status === 'ready'
      ? { ok: true, detail: this.#sharedL1 ? 'memory + redis' : 'redis (no L1)' }
      : { ok: false, detail: `redis ${this.#redis.status}; serving from memory and loaders` }
  }

  /** Cheap and synchronous. */
  status(): CacheStatus {
    return {
      backend: this.#redis ? 'redis' : 'memory',
      l1: this.#sharedL1 !== undefined,
      ...(this.#redis ? { redisReachable: this.#redis.status === 'ready' } : {}),
    }
  }

  /** Counters since start and key counts; with Redis this runs a SCAN, so call it per scrape, not per request. */
  async stats(): Promise<CacheStats> {
    const status = this.status()
    let redisKeys: number | undefined
    if (this.#redis && status.redisReachable) redisKeys = await countKeys(this.#redis, this.#prefix).catch(() => undefined)
    const l1Keys = this.#sharedL1?.size ?? 0
    const localOnlyKeys = this.#localL1.size
    return {
      ...status,
      ...this.#requests.counts(),
      keys: (redisKeys ?? l1Keys) + localOnlyKeys,
      l1Keys,
      localOnlyKeys,
      ...(redisKeys !== undefined ? { redisKeys } : {}),
      memoryBytes: (this.#sharedL1?.calculatedSize ?? 0) + this.#localL1.calculatedSize,
    }
  }

  /** Calls `listener(policy, state, key)` for every getOrLoad; returns the unsubscribe function. */
  onEvent(listener: CacheRequestListener): () => void {
    return this.#requests.on(listener)
  }

  /** Disconnects Redis and the bus. Safe to call more than once. */
  close(): Promise<void> {
    // bentocache disconnects L2 and the bus (our transport); disconnecting again is a no-op.
    clearTimeout(this.#reexpiryTimer)
    clearInterval(this.#outageTimer)
    this.#closed ??= this.#bento.disconnectAll().finally(() => this.#redis?.disconnect())
    return this.#closed
  }

  #provider(store: StoreName): CacheProvider {
    return store === 'local' ? this.#local : this.#shared
  }

  async #load(key: string, loader: () => Promise<unknown>, call: CallRecord, forced: boolean): Promise<CacheEntry> {
    const failure = forced ? undefined : this.#recentFailures.get(key)
    if (failure) throw failure.error
    const entry = await createEntry(await loader())
    this.#recentFailures.delete(key)
    call.produced = entry
    return entry
  }

  #backgroundFailed(key: string, policy: CachePolicy, error: FactoryError): void {
    if (!error.isBackgroundFactory) return // the caller gets this one
    const cause = error.cause
    // A rethrown backoff error must not extend its own backoff.
    if (this.#recentFailures.get(key)?.error === cause) return
    this.#recentFailures.set(key, { error: cause })
    this.#logger?.warn({ err: cause, key, policy: policy.name }, 'cache: background reload failed; serving the stale value')
  }

  #redisChanged(reachable: boolean, error?: Error): void {
    if (reachable === this.#redisReachable || this.#closed) return
    this.#redisReachable = reachable
    clearInterval(this.#outageTimer)
    this.#outageTimer = undefined
    if (reachable) {
      this.#logger?.info('cache: Redis reachable')
      return
    }
    this.#logger?.warn({ err: error }, 'cache: Redis unreachable; serving from L1 and loaders')
    // Without Redis no invalidation reaches this instance, so its L1 copies fall back to a short
    // life: every outageL1Seconds they are expired, and each is reloaded from the database (in the
    // background, the old value still served) on its next read. Stale data is bounded by that
    // period instead of by the value's full TTL.
    if (this.#sharedL1) this.#outageTimer = setInterval(() => this.#expireLocalCopies(), this.#outageL1Ms).unref()
  }

  /**
   * After Redis or the bus comes back, L1 may hold values whose invalidation was published while
   * this instance could not hear it, or values loaded while Redis was down and never written
   * there. Expiring them (not deleting: they stay as fallbacks) makes the next read of each
   * reload it in the background (or pick up a newer value from Redis), which also rewrites Redis.
   */
  #expireLocalCopies(): void {
    const keys = keysInLru(this.#sharedL1, this.#prefix)
    if (keys.length > 0) this.#bus?.deliverLocally({ type: CacheBusMessageType.Expire, keys, namespace: this.#prefix })
  }
}

/** A ResponseCache that has waited (boundedly) for Redis, so its first requests can use it. */
export async function createResponseCache(options: ResponseCacheOptions): Promise<ResponseCache> {
  const cache = new ResponseCache(options)
  await cache.ready()
  return cache
}
