// Prometheus metrics (prom-client) in a registry of this app's own, so several apps in one
// process (tests) never collide. Components report through the small methods below.
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { CacheStats } from '../cache/cache-types.ts'
import { metricsGuard } from './metrics-auth.ts'

export class Metrics {
  readonly registry = new Registry()
  /**
   * Cached reads counted as plain numbers, one per (policy, state), and handed to prom-client at
   * each scrape: the read path runs on every request, and prom-client hashes the labels per inc().
   */
  readonly #cacheRequestCounts = new Map<string, { policy: string; state: string; count: number }>()
  readonly #cacheRequests = new Counter({
    name: 'schools_cache_requests_total',
    help: 'Cached reads by route class and outcome (hit, miss, stale)',
    labelNames: ['policy', 'state'] as const,
    registers: [this.registry],
    collect: () => {
      this.#cacheRequests.reset()
      for (const { policy, state, count } of this.#cacheRequestCounts.values()) this.#cacheRequests.inc({ policy, state }, count)
    },
  })
  readonly #dbQueries = new Counter({ name: 'schools_db_queries_total', help: 'Database statements sent', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly #dbDuration = new Histogram({ name: 'schools_db_query_seconds', help: 'Database statement duration', buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [this.registry] })
  readonly #warmupRuns = new Counter({ name: 'schools_warmup_runs_total', help: 'Warmup runs by trigger and status', labelNames: ['trigger', 'status'] as const, registers: [this.registry] })
  readonly #warmupDuration = new Histogram({ name: 'schools_warmup_duration_seconds', help: 'Warmup run duration', labelNames: ['trigger'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] })
  readonly #warmupKeys = new Counter({ name: 'schools_warmup_keys_total', help: 'Keys warmed or failed', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly #cacheKeys = new Gauge({ name: 'schools_cache_keys', help: 'Keys held in the cache (L1 entries)', registers: [this.registry] })
  readonly #warmCoverage = new Gauge({ name: 'schools_warm_set_coverage_ratio', help: 'Share of successful reads since start whose key was in the warm set', registers: [this.registry] })
  readonly #learnedKeys = new Gauge({ name: 'schools_learned_keys', help: 'Keys in the learned warm set (last learned warmup)', registers: [this.registry] })

  // Cache figures set at each scrape from cache.stats(), which is constant-time (no SCAN).
  readonly #cacheBytes = new Gauge({ name: 'schools_cache_memory_bytes', help: "In-process cache size in bytes (the stored Buffers' lengths) by store: l1 (shared keys), local (searches and keys in probation)", labelNames: ['store'] as const, registers: [this.registry] })
  readonly #cacheRedisKeys = new Gauge({ name: 'schools_cache_redis_keys', help: 'Cache keys in Redis, from the last background count (CACHE_KEY_COUNT_SECONDS)', registers: [this.registry] })
  readonly #cacheAdmitted = new Gauge({ name: 'schools_cache_admitted_keys', help: 'Keys in the shared tier by why they were admitted: warm (a warmup wrote them), frequent (traffic repeated them; bounded by CACHE_ADMIT_MAX_KEYS)', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly #cacheAdmittedBytes = new Gauge({ name: 'schools_cache_admitted_bytes', help: 'Bytes of the keys admitted by frequency (bounded by CACHE_ADMIT_MAX_MB)', registers: [this.registry] })
  readonly #cacheProbation = new Gauge({ name: 'schools_cache_probation_loads', help: 'Loads kept out of the shared tier since start (not admitted)', registers: [this.registry] })
  readonly #loadsShed = new Gauge({ name: 'schools_loads_shed', help: 'Requests refused with 503 E_BUSY since start (too many database loads)', registers: [this.registry] })
  readonly #loadsActive = new Gauge({ name: 'schools_loads_in_flight', help: 'Database loads for requests running or queued now', labelNames: ['state'] as const, registers: [this.registry] })

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /** Per read: policies and states are a handful of fixed names, so the map stays that small. */
  cacheRequest(policy: string, state: string): void {
    const id = `${policy}\0${state}`
    const counted = this.#cacheRequestCounts.get(id)
    if (counted) counted.count += 1
    else this.#cacheRequestCounts.set(id, { policy, state, count: 1 })
  }

  dbQuery(durationMs: number, failed: boolean): void {
    this.#dbQueries.inc({ outcome: failed ? 'error' : 'ok' })
    this.#dbDuration.observe(durationMs / 1000)
  }

  warmupRun(run: { trigger: string; status: string; durationMs: number; warmed: number; failed: number }): void {
    const trigger = run.trigger.split(':')[0] ?? run.trigger
    this.#warmupRuns.inc({ trigger, status: run.status })
    this.#warmupDuration.observe({ trigger }, run.durationMs / 1000)
    this.#warmupKeys.inc({ outcome: 'warmed' }, run.warmed)
    this.#warmupKeys.inc({ outcome: 'failed' }, run.failed)
  }

  cacheKeys(count: number): void {
    this.#cacheKeys.set(count)
  }

  /** Sets the cache gauges from one stats() reading. */
  cacheFigures(stats: CacheStats): void {
    this.#cacheKeys.set(stats.keys)
    this.#cacheBytes.set({ store: 'l1' }, stats.l1Bytes)
    this.#cacheBytes.set({ store: 'local' }, stats.memoryBytes - stats.l1Bytes)
    if (stats.redisKeys !== undefined) this.#cacheRedisKeys.set(stats.redisKeys)
    if (stats.admission) {
      this.#cacheAdmitted.set({ reason: 'warm' }, stats.admission.warmKeys)
      this.#cacheAdmitted.set({ reason: 'frequent' }, stats.admission.admittedKeys)
      this.#cacheAdmittedBytes.set(stats.admission.admittedBytes)
      this.#cacheProbation.set(stats.admission.probationLoads)
    }
    if (stats.loads) {
      this.#loadsShed.set(stats.loads.shed)
      this.#loadsActive.set({ state: 'running' }, stats.loads.active)
      this.#loadsActive.set({ state: 'queued' }, stats.loads.queued)
    }
  }

  warmSetCoverage(share: number | undefined, learnedKeys: number): void {
    if (share !== undefined) this.#warmCoverage.set(share)
    this.#learnedKeys.set(learnedKeys)
  }
}

/** `render`: the text to serve instead of this registry's own (a cluster worker serves the deployment's, see cluster-metrics.ts). */
export async function metricsRoutes(app: FastifyInstance, options: { metrics: Metrics; beforeScrape?: () => Promise<void>; token?: string | undefined; render?: (() => Promise<string>) | undefined }): Promise<void> {
  app.get('/metrics', { ...(options.token ? { onRequest: metricsGuard(options.token) } : {}), schema: { tags: ['operations'], summary: 'Prometheus metrics (of the whole deployment under `schools serve --workers N`)', hide: false } }, async (_request, reply) => {
    await options.beforeScrape?.()
    return reply.type(options.metrics.registry.contentType).send(options.render ? await options.render() : await options.metrics.registry.metrics())
  })
}
