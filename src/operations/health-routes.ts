// Health for people and orchestrators. Clients only ever see fixed strings: a database error can
// name hosts, users and databases (a pg_hba.conf rejection does), so the real error goes to the
// log instead, once per change of state (a client polling /health during an outage cannot grow
// the log by a line per request).
//
// One status code per state (README, "Health"):
//   /health        200 ok | 200 degraded (cache: Redis unreachable) | 503 degraded (database unreachable)
//   /health/live   200 whenever the process answers
//   /health/ready  200 once the boot warmup has finished; 503 while it runs
// and, while the server shuts down, Fastify answers 503 to everything (return503OnClosing).
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Database } from '../db/database.ts'

/** What a component reports; `detail` must be one of a fixed set of strings, never an error's text. */
export interface ComponentHealth {
  ok: boolean
  detail?: string
}

export interface HealthDependencies {
  db: Database
  /** Extra components (cache, scheduler) that report themselves. */
  components?: () => Record<string, ComponentHealth>
  /** Which process answered: with several workers or instances behind one address, the pid tells them apart. */
  instance?: { id: string; pid: number }
  /** False while the instance should not be sent traffic yet (its boot warmup is running). Default: always ready. */
  ready?: () => boolean
}

export const DATABASE_REACHABLE = 'reachable'
export const DATABASE_UNREACHABLE = 'unreachable'

const healthResponse = { type: 'object', additionalProperties: true }

/** An error and its causes in one line: the wrapper's message alone is the same for every failure. */
function describe(error: unknown): string {
  const parts: string[] = []
  for (let current: unknown = error; current !== undefined && parts.length < 5; current = current instanceof Error ? current.cause : undefined) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current))
  }
  return parts.join(' <- ')
}

/** Logs the database's real error when its state changes (ok to failing, failing to ok, or a different error). */
function databaseStateLogger(log: FastifyBaseLogger): (error: unknown) => void {
  let last: string | undefined = 'ok'
  return (error) => {
    const state = error === undefined ? 'ok' : describe(error)
    if (state === last) return
    last = state
    if (error === undefined) log.info('health: database reachable again')
    else log.warn({ err: error, reason: state }, 'health: database unreachable')
  }
}

export async function healthRoutes(app: FastifyInstance, options: HealthDependencies): Promise<void> {
  const logDatabaseState = databaseStateLogger(app.log)

  app.get('/health', {
    schema: {
      tags: ['operations'],
      summary: 'Database reachability and component status',
      description: '200 `ok`; 200 `degraded` when a component other than the database is not ok (the cache without Redis still serves); 503 `degraded` when the database is unreachable (warm keys are still served from cache). Details are fixed strings; the errors are in the log.',
      response: { 200: healthResponse, 503: healthResponse },
    },
  }, async (_request, reply) => {
    const started = performance.now()
    let database: { ok: boolean; kind: string; latencyMs?: number; detail: string }
    try {
      await options.db.ping()
      database = { ok: true, kind: options.db.kind, latencyMs: Math.round((performance.now() - started) * 100) / 100, detail: DATABASE_REACHABLE }
      logDatabaseState(undefined)
    } catch (error) {
      database = { ok: false, kind: options.db.kind, detail: DATABASE_UNREACHABLE }
      logDatabaseState(error)
    }
    const components = options.components?.() ?? {}
    const ok = database.ok && Object.values(components).every((component) => component.ok)
    return reply.status(database.ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', database, ...components, ...(options.instance ? { instance: options.instance } : {}) })
  })

  app.get('/health/live', {
    schema: { tags: ['operations'], summary: 'Liveness: 200 whenever the process answers', response: { 200: healthResponse } },
  }, async () => ({ status: 'ok' }))

  app.get('/health/ready', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness: 200 once the boot warmup has finished, 503 before',
      description: 'A database outage does not make an instance unready: warm keys keep answering from cache and cold keys answer 503 at once on every instance alike, so draining them all would only turn a partial outage into a full one. See /health for the database.',
      response: { 200: healthResponse, 503: healthResponse },
    },
  }, async (_request, reply) => {
    const ready = options.ready?.() ?? true
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', ...(options.instance ? { instance: options.instance } : {}) })
  })
}
