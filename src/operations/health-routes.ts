import type { FastifyInstance } from 'fastify'
import type { Database } from '../db/database.ts'

export interface HealthDependencies {
  db: Database
  /** Extra components (cache, scheduler) that report themselves. */
  components?: () => Record<string, { ok: boolean; detail?: string }>
  /** Which process answered: with several workers or instances behind one address, the pid tells them apart. */
  instance?: { id: string; pid: number }
}

/**
 * `/health`: 200 `ok` when the database answers, 503 `degraded` when it does not. Cached reads
 * keep working while degraded; the status tells an operator (and a load balancer) why.
 */
export async function healthRoutes(app: FastifyInstance, options: HealthDependencies): Promise<void> {
  app.get('/health', {
    schema: {
      tags: ['operations'],
      summary: 'Database reachability and component status',
      response: {
        200: { type: 'object', additionalProperties: true },
        503: { type: 'object', additionalProperties: true },
      },
    },
  }, async (_request, reply) => {
    const started = performance.now()
    let database: { ok: boolean; kind: string; latencyMs?: number; detail?: string }
    try {
      await options.db.ping()
      database = { ok: true, kind: options.db.kind, latencyMs: Math.round((performance.now() - started) * 100) / 100 }
    } catch (error) {
      database = { ok: false, kind: options.db.kind, detail: error instanceof Error ? error.message : String(error) }
    }
    const components = options.components?.() ?? {}
    const ok = database.ok && Object.values(components).every((component) => component.ok)
    return reply.status(database.ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', database, ...components, ...(options.instance ? { instance: options.instance } : {}) })
  })
}
