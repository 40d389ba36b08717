// A response cache for serialised JSON bodies, built on bentocache. It knows nothing about
// what it caches: callers bring keys, a policy (TTL class) and a loader. This file composes the
// parts, each in a file of its own: the layers (cache-layers.ts), the fast paths (l1-fast-path.ts,
// and without L1 redis-fast-path.ts), admission to the shared tier (admission.ts), loads with their
// backoff, limits and generations (entry-loader.ts), Redis health (redis-health.ts), bulk
// expiry (bulk-expiry.ts), renewal (entry-renewal.ts) and the background key count
// (key-count-sampler.ts). docs/cache.md has the design: tiers and admission, stale-while-
// revalidate, stampedes, invalidation without a cold window, generations.
import type { BentoCache, BentoStore } from 'bentocache'
import type { GetSetFactoryContext } from 'bentocache/types'
import { CacheBusMessageType } from 'bentocache/types'
import type { Logger } from '../logger.ts'
import { SharedTierAdmission } from './admission.ts'
import { ClockBound, type CacheEntry } from './cache-entry.ts'
import { CacheRequestCounter, type CacheRequestListener } from './cache-events.ts'
import { buildCacheLayers, type CacheLayers, type StoreName } from './cache-layers.ts'
import { expireAllKeys, expireLocalKeys, expireSharedKey } from './bulk-expiry.ts'
import { EntryRenewal } from './entry-renewal.ts'
import { cacheHealth, cacheStats, cacheStatus, type CachePolicy, type CacheResult, type CacheStats, type CacheStatus, type ResponseCacheOptions } from './cache-types.ts'
import { EntryLoader } from './entry-loader.ts'
import { entryBytes, stateOf, unwrapLoaderError, type CallRecord } from './load-outcome.ts'
import { KeyCountSampler } from './key-count-sampler.ts'
import { L1FastPath } from './l1-fast-path.ts'
import { keysInLru } from './memory-layer.ts'
import { policyTiming } from './policy-timing.ts'
import { RedisFastPath } from './redis-fast-path.ts'
import { RedisHealth } from './redis-health.ts'
import { whenReady } from './redis-connections.ts'

export type { CacheEntry } from './cache-entry.ts'
export { ClockBound }
export type { CacheRequestListener, CacheState } from './cache-events.ts'
export type { CachePolicy, CacheResult, CacheStats, CacheStatus, ResponseCacheOptions } from './cache-types.ts'

export class ResponseCache {
  readonly #prefix: string
  readonly #localPrefix: string
  readonly #layers: CacheLayers
  readonly #bento: BentoCache<Record<StoreName, BentoStore>>
  readonly #fastPath: L1FastPath
  readonly #probationPath: L1FastPath
  /** Without L1: fresh values read from Redis directly (redis-fast-path.ts). */
  #redisPath: RedisFastPath | undefined
  readonly #loads: EntryLoader
  readonly #health: RedisHealth | undefined
  readonly #admission: SharedTierAdmission | undefined
  readonly #keyCounts: KeyCountSampler | undefined
  readonly #probationSeconds: number
  readonly #connectTimeoutMs: number
  readonly #requests = new CacheRequestCounter()
  readonly #logger: Logger | undefined
  readonly #renewal: EntryRenewal
  #renewed = 0
  #closed: Promise<void> | undefined

  constructor(options: ResponseCacheOptions) {
    if (options.prefix === '' || /\s/.test(options.prefix) || options.prefix.startsWith(':') || options.prefix.endsWith(':')) {
      throw new TypeError(`Cache prefix '${options.prefix}' must be non-empty, without spaces, and not start or end with ':'`)
    }
    this.#prefix = `${options.prefix}:cache`
    this.#localPrefix = `${this.#prefix}:local-only`
    this.#logger = options.logger
    this.#connectTimeoutMs = options.redisConnectTimeoutMs ?? 2000
    this.#probationSeconds = options.probationSeconds ?? 60
    this.#loads = new EntryLoader(options, options.logger)
    this.#layers = buildCacheLayers(options, this.#prefix, this.#localPrefix, {
      onRedisError: (error) => this.#health?.changed(false, error),
      onBusResubscribed: () => this.#expireLocalCopies(),
      logger: options.logger,
    })
    this.#bento = this.#layers.bento
    this.#fastPath = new L1FastPath(this.#layers.sharedL1, this.#prefix)
    this.#probationPath = new L1FastPath(this.#layers.localL1, this.#localPrefix)
    const redis = this.#layers.redis
    if (redis) {
      this.#health = new RedisHealth({
        outageL1Ms: (options.outageL1Seconds ?? 30) * 1000,
        circuitBreakerMs: options.redisCircuitBreakerMs ?? 2000,
        expireLocalCopies: () => this.#expireLocalCopies(),
        expireEverything: () => this.expireAll(),
        logger: options.logger,
      })
      this.#health.watch(redis)
      const health = this.#health
      if (!this.#layers.sharedL1) this.#redisPath = new RedisFastPath(redis, this.#prefix, () => health.settled)
      void this.#layers.bus?.onExpireAllElsewhere(() => {
        this.#loads.expiredEverything()
        this.#expireLocalStore()
      })
      this.#keyCounts = new KeyCountSampler(redis, this.#prefix, (options.keyCountIntervalSeconds ?? 60) * 1000, options.logger)
    }
    this.#renewal = new EntryRenewal(redis, this.#layers.sharedL1, this.#prefix, (key) => this.#fastPath.forget(key))
    if (options.admission) this.#admission = new SharedTierAdmission(options.admission, (key) => this.#evicted(key))
  }

  /** Where this cache's keys live in Redis: `<redisKeyPrefix>:<key>`. */
  get redisKeyPrefix(): string {
    return this.#prefix
  }

  /** Resolves true once Redis is reachable, false after the connect timeout if it is not; never rejects. */
  async ready(): Promise<boolean> {
    if (!this.#layers.redis) return true
    return whenReady(this.#layers.redis, this.#connectTimeoutMs)
  }

  /**
   * The cached body for `key`, loading it on a miss. `state` is 'miss' when this call ran the
   * loader, 'stale' when the value served is past its TTL (a reload runs in the background, or
   * the loader failed), 'hit' otherwise. When the loader fails and no value is left to serve, its
   * error is thrown unchanged; when too many loads are running, BusyError.
   */
  async getOrLoad(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<CacheResult> {
    const result = await this.#read(key, policy, loader)
    this.#requests.record(result.state, key, policy.name)
    return result
  }

  /**
   * The fresh copy of `key` in this process's shared L1, counted as a hit; undefined otherwise
   * (then call getOrLoad, which also serves local-only keys, probation copies and Redis).
   * Synchronous, so a route can answer the common case without a promise or a microtask.
   */
  peek(key: string, policy: CachePolicy): CacheEntry | undefined {
    if (policy.localOnly) return undefined
    const fresh = this.#fastPath.fresh(key)
    if (fresh) this.#requests.record('hit', key, policy.name)
    return fresh
  }

  async #read(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<CacheResult> {
    if (policy.localOnly) return this.#readLocal(key, policy, loader)
    const fresh = this.#fastPath.fresh(key) ?? (this.#redisPath && (await this.#redisPath.fresh(key)))
    if (fresh) return { entry: fresh, state: 'hit' }
    let admitted = true
    if (this.#admission) {
      admitted = this.#admission.admits(key, this.#admission.seen(key))
      const inProbation = admitted ? undefined : this.#probationPath.fresh(key)
      if (inProbation) return { entry: inProbation, state: 'hit' }
    }
    const call: CallRecord = {}
    let entry: CacheEntry | undefined
    try {
      entry = await this.#layers.shared.getOrSet<CacheEntry | undefined>({
        key,
        ...policyTiming(policy),
        factory: (context) => this.#loadShared(key, policy, loader, call, admitted, context),
        onFactoryError: (error) => this.#loads.backgroundFailed(key, policy, error),
      })
    } catch (error) {
      throw unwrapLoaderError(error)
    }
    if (entry === undefined) {
      // The factory kept the key out of the shared tier (ctx.skip()) and served it locally.
      if (!call.local) throw new Error(`cache: no value for '${key}' after a skipped load`)
      return call.local
    }
    const state = stateOf(entry, call)
    if (state === 'stale') {
      // With both copies past their TTL, bentocache serves Redis's while it reloads, even when L1's
      // is newer: after a Redis outage, Redis still holds the value from before it, and L1 the one
      // loaded during it (an invalidation this instance made then). The newer one is served (fresh
      // if a reload stored it while this read waited).
      const held = this.#fastPath.held(key)
      if (held && held.storedAt > entry.storedAt) return { entry: held, state: stateOf(held, call) }
    }
    return { entry, state }
  }

  /**
   * The shared tier's factory. A key already in the shared tier (a stale value being reloaded)
   * or admitted is loaded there; any other key is served from the local store and not written
   * to the shared tier at all.
   */
  async #loadShared(key: string, policy: CachePolicy, loader: () => Promise<unknown>, call: CallRecord, admitted: boolean, context: GetSetFactoryContext): Promise<CacheEntry | undefined> {
    const inShared = context.gracedEntry !== undefined
    const admission = this.#admission
    if (inShared || admitted || !admission) {
      if (!inShared && admission) {
        const promoted = this.#probationPath.fresh(key)
        if (promoted && !this.#loads.storedBeforeExpiry(promoted.storedAt) && admission.admitLoaded(key, entryBytes(promoted))) {
          void this.#layers.local.delete({ key })
          return promoted
        }
        if (!promoted && this.#probationPath.holds(key)) {
          // A probation copy past its TTL: served stale while the local store reloads it (or
          // while the database is down), like any stale value; promoted once fresh.
          call.local = await this.#readLocal(key, this.#probationPolicy(policy), loader)
          return context.skip()
        }
      }
      const entry = await this.#loads.load(key, policy, loader, call, false, context)
      if (inShared || !admission || admission.admitLoaded(key, entryBytes(entry))) return entry
      // Larger than the whole admission budget: served, and kept in probation only.
      await this.#layers.local.set({ key, value: entry, ...policyTiming(this.#probationPolicy(policy)) })
      admission.probationLoad()
      call.local = { entry, state: 'miss' }
      return context.skip()
    }
    call.local = await this.#readLocal(key, this.#probationPolicy(policy), loader)
    if (call.local.state === 'miss') admission.probationLoad()
    return context.skip()
  }

  /** The local store: local-only policies, and keys in probation (not admitted to the shared tier). */
  async #readLocal(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<CacheResult> {
    const call: CallRecord = {}
    let entry: CacheEntry
    try {
      entry = await this.#layers.local.getOrSet<CacheEntry>({
        key,
        ...policyTiming(policy),
        factory: (context) => this.#loads.load(key, policy, loader, call, false, context),
        onFactoryError: (error) => this.#loads.backgroundFailed(key, policy, error),
      })
    } catch (error) {
      throw unwrapLoaderError(error)
    }
    return { entry, state: stateOf(entry, call) }
  }

  #probationPolicy(policy: CachePolicy): CachePolicy {
    // Grace too, so a key in probation also outlives a database outage for a while.
    return { name: policy.name, ttlSeconds: Math.min(policy.ttlSeconds, this.#probationSeconds), graceSeconds: Math.min(policy.graceSeconds, this.#probationSeconds), localOnly: true }
  }

  /**
   * Loads now and replaces the stored value (the warmup runner's call): the key joins the warm
   * set, admitted to the shared tier. Readers are not held up: meanwhile they get the current
   * value. If the loader fails, the stored value is left as it was and the loader's error is
   * thrown. Not bounded by the load limits (the warmup has its own concurrency).
   */
  async refresh(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<CacheEntry> {
    if (!policy.localOnly) this.#admission?.markWarm(key)
    try {
      return await this.#provider(policy.localOnly ? 'local' : 'shared').getOrSet<CacheEntry>({
        key,
        ...policyTiming(policy),
        forceFresh: true,
        factory: (context) => this.#loads.load(key, policy, loader, {}, true, context),
      })
    } catch (error) {
      throw unwrapLoaderError(error)
    }
  }

  /** The warmup's call: renews the stored value if it is reusable (entry-renewal.ts), else refresh(). Local-only keys are always loaded. */
  async warm(key: string, policy: CachePolicy, loader: () => Promise<unknown>): Promise<'renewed' | 'loaded'> {
    if (!policy.localOnly && (await this.#renewal.renew(key, policy, this.#loads.generation))) {
      this.#admission?.markWarm(key)
      this.#loads.backoff.forget(key)
      this.#renewed += 1
      return 'renewed'
    }
    await this.refresh(key, policy, loader)
    return 'loaded'
  }

  /** The data generation, read after it was committed (so no load records one newer than its data); undefined: unknown. */
  setGeneration(generation: number | undefined): void {
    this.#loads.generation = generation
  }

  /** Values warm() renewed instead of loading, since start: for tests and diagnostics. */
  get renewedCount(): number {
    return this.#renewed
  }

  /** Marks `key` expired but keeps it (for no longer than it had left): the next read is 'stale' and reloads in the background. */
  async expire(key: string): Promise<void> {
    await Promise.all([expireSharedKey({ shared: this.#layers.shared, bus: this.#layers.bus, prefix: this.#prefix }, { key }), this.#layers.local.expire({ key })])
  }

  /**
   * expire() for every key this instance can see: its L1 and local entries and every Redis key
   * under the prefix, none kept longer than it had left (bulk-expiry.ts). Other instances expire
   * the shared keys in their L1 through the bus, and their local entries on one bus message.
   * Returns the number of keys.
   */
  async expireAll(): Promise<number> {
    this.#loads.expiredEverything()
    const { shared, local, sharedL1, localL1, redis, bus } = this.#layers
    // Told first, so that another instance's load in flight (old data) is stored already stale
    // instead of landing as fresh after the keys below are expired.
    await bus?.announceExpireAll().catch((error: unknown) => this.#logger?.warn({ err: error }, 'cache: could not tell the other instances to expire their local entries'))
    return expireAllKeys({ shared, local, sharedL1, localL1, redis, bus, prefix: this.#prefix, localPrefix: this.#localPrefix, logger: this.#logger })
  }

  /** expire() for every entry of this instance's local store (searches, keys not admitted). */
  #expireLocalStore(): void {
    const { local, localL1 } = this.#layers
    expireLocalKeys({ local, localL1, localPrefix: this.#localPrefix }).catch((error: unknown) => this.#logger?.debug({ err: error }, 'cache: could not expire the local entries'))
  }

  /** Removes `key` everywhere (L1 here and on other instances, Redis). The next read waits for the loader. */
  async delete(key: string): Promise<void> {
    this.#loads.backoff.forget(key)
    this.#admission?.forget(key)
    await Promise.all([this.#layers.shared.delete({ key }), this.#layers.local.delete({ key })])
  }

  /** Removes every key, here, in Redis and in the other instances' L1. Everything is cold afterwards. */
  async clear(): Promise<void> {
    this.#loads.expiredEverything()
    this.#loads.backoff.clear()
    this.#admission?.forgetAll()
    this.#keyCounts?.forget()
    await Promise.all([this.#layers.shared.clear(), this.#layers.local.clear()])
  }

  /** Whether this instance's L1 holds a copy of shared `key` (fresh or not). For tests and diagnostics. */
  l1Holds(key: string): boolean {
    return this.#fastPath.holds(key)
  }

  /** For /health: not ok while Redis is configured but unreachable (reads still work, from memory and loaders). */
  health(): { ok: boolean; detail?: string } {
    return cacheHealth(this.#layers)
  }

  /** Cheap and synchronous. */
  status(): CacheStatus {
    return cacheStatus(this.#layers)
  }

  /**
   * Counters and sizes, in constant time: nothing walks the keys here (call it per scrape
   * freely). `redisKeys` is the last background count (see keyCountIntervalSeconds).
   */
  async stats(): Promise<CacheStats> {
    const status = this.status()
    const sample = status.redisReachable ? this.#keyCounts?.latest() : undefined
    return cacheStats(status, this.#requests.counts(), this.#layers, sample, this.#admission?.counts(), this.#loads.limiter?.counts())
  }

  /** Counts the Redis keys now (a SCAN) instead of waiting for the background count; stats() reports it. */
  async sampleKeyCount(): Promise<number | undefined> {
    return (await this.#keyCounts?.sample())?.keys
  }

  /** Reads answered since start (every getOrLoad): how busy serving is, for the warmup's pacing. */
  get readCount(): number {
    const { hits, misses, stale } = this.#requests.counts()
    return hits + misses + stale
  }

  /** Calls `listener(policy, state, key)` for every getOrLoad; returns the unsubscribe function. */
  onEvent(listener: CacheRequestListener): () => void {
    return this.#requests.on(listener)
  }

  /** Disconnects Redis and the bus. Safe to call more than once. */
  close(): Promise<void> {
    // bentocache disconnects L2 and the bus (our transport); disconnecting again is a no-op.
    this.#health?.close()
    this.#keyCounts?.close()
    this.#loads.limiter?.close()
    this.#closed ??= this.#bento.disconnectAll().finally(() => this.#layers.redis?.disconnect())
    return this.#closed
  }

  #provider(store: StoreName): CacheLayers['shared'] {
    return store === 'local' ? this.#layers.local : this.#layers.shared
  }

  /** A frequency-admitted key was pushed out of the admission budget: it leaves the shared tier. */
  #evicted(key: string): void {
    this.#layers.shared.delete({ key }).catch((error: unknown) => this.#logger?.debug({ err: error, key }, 'cache: could not delete an evicted key'))
  }

  /**
   * After Redis or the bus comes back, L1 may hold values whose invalidation was published while
   * this instance could not hear it, or values loaded while Redis was down and never written
   * there. Expiring them (not deleting: they stay as fallbacks) makes the next read of each
   * reload it in the background (or pick up a newer value from Redis), which also rewrites Redis.
   */
  #expireLocalCopies(): void {
    const keys = keysInLru(this.#layers.sharedL1, this.#prefix)
    if (keys.length > 0) this.#layers.bus?.deliverLocally({ type: CacheBusMessageType.Expire, keys, namespace: this.#prefix })
  }
}

/** A ResponseCache that has waited (boundedly) for Redis, so its first requests can use it. */
export async function createResponseCache(options: ResponseCacheOptions): Promise<ResponseCache> {
  const cache = new ResponseCache(options)
  await cache.ready()
  return cache
}
