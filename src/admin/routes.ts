// The admin API for the warmup scheduler (bearer token): status, warmup, clear-and-warmup,
// and the record of any run.
import type { FastifyInstance } from 'fastify'
import { NotFoundError } from '../errors.ts'
import type { Runtime } from '../runtime.ts'
import { adminGuard } from './auth.ts'
import { requestWarmup } from './warmup-requests.ts'

const WARMUP_TYPES = ['all', 'primary', 'secondary', 'stats', 'filters', 'details', 'learned'] as const

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
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${STATUS_SECTION_TIMEOUT_MS} ms`)), STATUS_SECTION_TIMEOUT_MS)
  })
  try {
    return await Promise.race([Promise.resolve().then(read), timeout])
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) }
  } finally {
    clearTimeout(timer)
  }
}

export async function adminRoutes(app: FastifyInstance, options: { runtime: Runtime; token: string }): Promise<void> {
  const { runtime } = options
  app.addHook('onRequest', adminGuard({ token: options.token }))

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

  const warmupBody = {
    type: 'object',
    additionalProperties: false,
    properties: {
      type: { type: 'string', enum: [...WARMUP_TYPES], default: 'all' },
      async: { type: 'boolean', default: false },
    },
  }
  const runResponse = { type: 'object', additionalProperties: true }

  app.post<{ Body: { type: (typeof WARMUP_TYPES)[number]; async: boolean } }>('/api/scheduler/warmup', {
    schema: { ...secured, summary: 'Warm one group or all; async answers 202 with the run id', body: warmupBody, response: { 200: runResponse, 202: runResponse, ...common } },
  }, async (request, reply) => {
    const body = request.body ?? { type: 'all', async: false }
    const accepted = await requestWarmup(runtime, { groups: [body.type ?? 'all'], trigger: 'admin' })
    if (body.async) return reply.status(202).send({ runId: accepted.runId, alreadyRunning: accepted.alreadyRunning, status: `/api/scheduler/runs/${accepted.runId}` })
    return reply.status(200).send({ ...(await accepted.done), alreadyRunning: accepted.alreadyRunning })
  })

  app.post<{ Body: { async: boolean } }>('/api/scheduler/clear-and-warmup', {
    schema: {
      ...secured,
      summary: 'Expire every cached value (still served while being replaced) and warm all groups',
      body: { type: 'object', additionalProperties: false, properties: { async: { type: 'boolean', default: false } } },
      response: { 200: runResponse, 202: runResponse, ...common },
    },
  }, async (request, reply) => {
    const accepted = await requestWarmup(runtime, { groups: ['all'], trigger: 'admin:clear', clearFirst: true })
    if (request.body?.async) return reply.status(202).send({ runId: accepted.runId, alreadyRunning: accepted.alreadyRunning, status: `/api/scheduler/runs/${accepted.runId}` })
    return reply.status(200).send({ ...(await accepted.done), alreadyRunning: accepted.alreadyRunning })
  })

  app.get<{ Params: { id: string } }>('/api/scheduler/runs/:id', {
    schema: {
      ...secured,
      summary: 'One run from the history',
      params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: '^[A-Za-z0-9][\\w:.-]{0,99}$' } } },
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: runResponse, 404: errorResponse, ...common },
    },
  }, async (request) => {
    const record = await runtime.history.get(request.params.id)
    if (!record) throw new NotFoundError('Warmup run', request.params.id)
    return record
  })
}
