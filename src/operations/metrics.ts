// Prometheus metrics (prom-client) in a registry of this app's own, so several apps in one
// process (tests) never collide. Components report through the small methods below.
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  readonly #cacheRequests = new Counter({ name: 'schools_cache_requests_total', help: 'Cached reads by route class and outcome (hit, miss, stale)', labelNames: ['policy', 'state'] as const, registers: [this.registry] })
  readonly #dbQueries = new Counter({ name: 'schools_db_queries_total', help: 'Database statements sent', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly #dbDuration = new Histogram({ name: 'schools_db_query_seconds', help: 'Database statement duration', buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [this.registry] })
  readonly #warmupRuns = new Counter({ name: 'schools_warmup_runs_total', help: 'Warmup runs by trigger and status', labelNames: ['trigger', 'status'] as const, registers: [this.registry] })
  readonly #warmupDuration = new Histogram({ name: 'schools_warmup_duration_seconds', help: 'Warmup run duration', labelNames: ['trigger'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] })
  readonly #warmupKeys = new Counter({ name: 'schools_warmup_keys_total', help: 'Keys warmed or failed', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly #cacheKeys = new Gauge({ name: 'schools_cache_keys', help: 'Keys held in the cache (L1 entries)', registers: [this.registry] })
  readonly #warmCoverage = new Gauge({ name: 'schools_warm_set_coverage_ratio', help: 'Share of successful reads since start whose key was in the warm set', registers: [this.registry] })
  readonly #learnedKeys = new Gauge({ name: 'schools_learned_keys', help: 'Keys in the learned warm set (last learned warmup)', registers: [this.registry] })

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  cacheRequest(policy: string, state: string): void {
    this.#cacheRequests.inc({ policy, state })
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

  warmSetCoverage(share: number | undefined, learnedKeys: number): void {
    if (share !== undefined) this.#warmCoverage.set(share)
    this.#learnedKeys.set(learnedKeys)
  }
}

export async function metricsRoutes(app: FastifyInstance, options: { metrics: Metrics; beforeScrape?: () => Promise<void> }): Promise<void> {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } }, async (_request, reply) => {
    await options.beforeScrape?.()
    return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics())
  })
}
