// GET /api/scheduler/coverage (admin): how much of the traffic the cache and the warm set cover,
// and what the next learned warmup will change. Registered beside adminRoutes, behind the same token.
import type { FastifyInstance } from 'fastify'
import type { Runtime } from '../runtime.ts'
import { coverageReport } from '../schools/coverage.ts'
import { adminGuard } from './auth.ts'

const nullableShare = { type: ['number', 'null'], minimum: 0, maximum: 1, description: 'Share from 0 to 1; null when there were no requests' }
const classCoverage = {
  type: 'object',
  required: ['requestClass', 'requests', 'cachedShare', 'warmShare'],
  properties: {
    requestClass: { type: 'string', enum: ['lists', 'details', 'filters', 'stats', 'searches'] },
    requests: { type: 'number', description: 'Successful reads (200 and 304)' },
    cachedShare: { ...nullableShare, description: 'Share answered from cache (hit or stale)' },
    warmShare: { ...nullableShare, description: 'Share whose key was in the warm set when requested' },
  },
}

/** The response, documented for the dashboard (H7) and the OpenAPI page. */
export const coverageSchema = {
  type: 'object',
  required: ['generatedAt', 'learning', 'windows', 'topMissed', 'nextWarmup'],
  properties: {
    generatedAt: { type: 'string', format: 'date-time' },
    learning: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean', description: 'WARM_LEARNED and REQUEST_STATS both on' },
        coverageTarget: { type: 'number', description: 'WARM_LEARNED_COVERAGE' },
        maxKeys: { type: 'integer', description: 'WARM_LEARNED_MAX_KEYS' },
        windowDays: { type: 'integer', description: 'WARM_LEARNED_DAYS' },
        learnedKeys: { type: 'integer', description: 'Keys the last learned warmup warmed' },
        droppedKeys: { type: 'integer', description: 'Keys the last learned warmup dropped (the data no longer allows them)' },
      },
    },
    windows: {
      type: 'array',
      description: 'The last 24 hours and the last 7 days (whole hours)',
      items: {
        type: 'object',
        required: ['window', 'requests', 'cachedShare', 'warmShare', 'byClass'],
        properties: { window: { type: 'string', enum: ['24h', '7d'] }, requests: { type: 'number' }, cachedShare: nullableShare, warmShare: nullableShare, byClass: { type: 'array', items: classCoverage } },
      },
    },
    topMissed: {
      type: 'array',
      description: 'Keys with the most cache misses in the last 24 hours (at most 20)',
      items: { type: 'object', properties: { key: { type: 'string' }, requestClass: { type: 'string' }, requests: { type: 'number' }, misses: { type: 'number' } } },
    },
    nextWarmup: {
      type: 'object',
      properties: {
        keys: { type: 'integer', description: 'Learned keys the next warmup will warm' },
        coveredShare: { type: 'number', description: 'Share of the learning window the warm set would then cover (lower bound)' },
        add: { type: 'array', description: 'Keys it adds (at most 50)', items: { type: 'object', properties: { key: { type: 'string' }, requestClass: { type: 'string' }, requests: { type: 'number' } } } },
        drop: { type: 'array', description: 'Keys it drops, with why (at most 50)', items: { type: 'object', properties: { key: { type: 'string' }, reason: { type: 'string' } } } },
      },
    },
  },
}

const errorResponse = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } }

export async function coverageRoutes(app: FastifyInstance, options: { runtime: Runtime; token: string }): Promise<void> {
  app.addHook('onRequest', adminGuard({ token: options.token }))
  app.get('/api/scheduler/coverage', {
    schema: {
      tags: ['scheduler'],
      security: [{ bearer: [] }],
      summary: 'Cache and warm-set coverage by request class, top missed keys, next learned warmup',
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: coverageSchema, 401: errorResponse, 429: errorResponse, 503: errorResponse },
    },
  }, async () => coverageReport(options.runtime.learning))
}
