// GET /api/scheduler/runs: the run history a page at a time, newest first, for the dashboard
// and the CLI. Registered inside the admin routes, so their bearer-token guard applies.
import type { FastifyInstance } from 'fastify'
import type { Runtime } from '../runtime.ts'

/** The largest page a client can ask for: bounds what one request makes us read and send. */
export const MAX_RUNS_PAGE_SIZE = 100

const errorResponse = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, parameter: { type: 'string' } } }

export interface RunsPageQuery {
  page: number
  pageSize: number
}

export async function runsRoutes(app: FastifyInstance, options: { runtime: Pick<Runtime, 'history'> }): Promise<void> {
  const { history } = options.runtime
  app.get<{ Querystring: RunsPageQuery }>('/api/scheduler/runs', {
    schema: {
      tags: ['scheduler'],
      security: [{ bearer: [] }],
      summary: 'The warmup run history, newest first, a page at a time',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 },
          pageSize: { type: 'integer', minimum: 1, maximum: MAX_RUNS_PAGE_SIZE, default: 20 },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['items', 'page', 'pageSize', 'total', 'totalPages'],
          properties: {
            items: { type: 'array', items: { type: 'object', additionalProperties: true } },
            page: { type: 'integer' },
            pageSize: { type: 'integer' },
            total: { type: 'integer' },
            totalPages: { type: 'integer' },
          },
        },
        400: errorResponse,
        401: errorResponse,
        429: errorResponse,
      },
    },
  }, async (request) => {
    const { page, pageSize } = request.query
    const [items, total] = await Promise.all([history.page((page - 1) * pageSize, pageSize), history.count()])
    return { items, page, pageSize, total, totalPages: Math.ceil(total / pageSize) }
  })
}
