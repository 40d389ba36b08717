// The admin API for the warmup scheduler (bearer token): status, warmup, clear-and-warmup,
// and the record of any run. The warmups are answered by warmup-requests.ts (one implementation
// and one body schema, shared with the CLI's POST /api/admin/warmup).
import type { FastifyInstance } from 'fastify'
import { withTimeout } from '../async-limits.ts'
import { NotFoundError } from '../errors.ts'
import type { Runtime } from '../runtime.ts'
import { RUN_ID_PATTERN } from '../warmup/run-tracker.ts'
import { adminGuard } from './auth.ts'
import { requireJsonBody, useStrictValidation } from './strict-body.ts'
import { dashboardApiRoutes } from './dashboard-routes.ts'
import { runsRoutes } from './runs-routes.ts'
import { answerWarmup, warmupBodySchema, type WarmupBody } from './warmup-requests.ts'

const errorResponse = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, parameter: { type: 'string' } } }
const secured = { tags: ['scheduler'], security: [{ bearer: [] }] }
const common = { 400: errorResponse, 401: errorResponse, 429: errorResponse }

/** Longest one part of the status may take; BullMQ waits for Redis to come back instead of failing. */
const STATUS_SECTION_TIMEOUT_MS = 2000

/**
 * One part of the status (scheduler, run history, cache). The status is most needed while Redis
 * or the database is down, so a part that fails or hangs reports that instead of failing the
 * whole answer.
 */
async function section<T>(read: () => Promise<T>): Promise<T | { unavailable: string }> {
  try {
    return await withTimeout(read, STATUS_SECTION_TIMEOUT_MS, `no answer within ${STATUS_SECTION_TIMEOUT_MS} ms`)
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) }
  }
}

export async function adminRoutes(app: FastifyInstance, options: { runtime: Runtime; token: string }): Promise<void> {
  const { runtime } = options
  app.addHook('onRequest', adminGuard({ token: options.token }))
  app.addHook('onRequest', requireJsonBody)
  useStrictValidation(app)
  // Their own files; registered here so the guard above applies to them too.
  await app.register(runsRoutes, { runtime })
  await app.register(dashboardApiRoutes, { runtime })

  app.get('/api/scheduler/status', {
    schema: { ...secured, summary: 'Scheduler, jobs, current and last runs, cache figures', querystring: { type: 'object', additionalProperties: false, properties: {} }, response: { 200: { type: 'object', additionalProperties: true }, ...common } },
  }, async () => {
    const current = runtime.runner.current()
    const [scheduler, recent, cache] = await Promise.all([
      section<unknown>(() => runtime.scheduler?.status() ?? Promise.resolve({ backend: 'off', running: false, instanceId: runtime.instanceId, timeZone: runtime.config.timeZone, jobs: [] })),
      section(() => runtime.history.recent(10)),
      section(() => runtime.cache.stats()),
    ])
    return {
      scheduler,
      currentRun: current ? { runId: current.runId, trigger: current.trigger, groups: current.groups, startedAt: current.startedAt, instance: current.instance, progress: current.progress() } : null,
      recentRuns: recent,
      groups: runtime.registry.groups(),
      cache,
    }
  })

  const runResponse = { type: 'object', additionalProperties: true }

  app.post<{ Body: WarmupBody }>('/api/scheduler/warmup', {
    schema: { ...secured, summary: 'Warm one group or all; async answers 202 with the run id', body: warmupBodySchema(runtime.registry, ['type', 'async']), response: { 200: runResponse, 202: runResponse, ...common } },
  }, async (request, reply) => answerWarmup(runtime, reply, 'admin', request.body ?? {}))

  app.post<{ Body: WarmupBody }>('/api/scheduler/clear-and-warmup', {
    schema: {
      ...secured,
      summary: 'Expire every cached value (still served while being replaced) and warm all groups; the expiry is part of the run, so async answers 202 at once and concurrent clears share one run',
      body: warmupBodySchema(runtime.registry, ['async']),
      response: { 200: runResponse, 202: runResponse, ...common },
    },
  }, async (request, reply) => answerWarmup(runtime, reply, 'admin', { ...request.body, clearFirst: true }))

  app.get<{ Params: { id: string } }>('/api/scheduler/runs/:id', {
    schema: {
      ...secured,
      summary: 'One run from the history',
      params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: RUN_ID_PATTERN } } },
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: runResponse, 404: errorResponse, ...common },
    },
  }, async (request) => {
    const record = await runtime.history.get(request.params.id)
    if (!record) throw new NotFoundError('Warmup run', request.params.id)
    return record
  })
}
