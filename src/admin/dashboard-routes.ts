// GET /api/scheduler/dashboard: what the operator dashboard needs besides the status and the
// run history: this process's per-minute cache answers (the hit-ratio chart), the per-group
// progress of the run it is running, whether the database answers, and which optional admin
// endpoints exist. Registered inside the admin routes, so their bearer-token guard applies.
import type { FastifyInstance } from 'fastify'
import { RequestSeries } from '../cache/request-series.ts'
import type { Runtime } from '../runtime.ts'
import { RunProgressTracker } from '../warmup/run-progress.ts'

/** The chart's window: one hour of per-minute points. */
const SERIES_MINUTES = 60
const PING_TIMEOUT_MS = 2000
const COVERAGE_ROUTE = '/api/scheduler/coverage'

async function databaseReachable(runtime: Pick<Runtime, 'db'>): Promise<{ reachable: boolean; kind: string; detail?: string }> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      runtime.db.ping(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS)
      }),
    ])
    return { reachable: true, kind: runtime.db.kind }
  } catch {
    // The error itself is in the server log; the page only needs to know.
    return { reachable: false, kind: runtime.db.kind, detail: 'database not answering' }
  } finally {
    clearTimeout(timer)
  }
}

export async function dashboardApiRoutes(app: FastifyInstance, options: { runtime: Pick<Runtime, 'db' | 'cache' | 'runner' | 'instanceId'> }): Promise<void> {
  const { runtime } = options
  const series = new RequestSeries(SERIES_MINUTES)
  const progress = new RunProgressTracker()
  const unsubscribes = [
    runtime.cache.onEvent((_policy, state) => series.record(state)),
    runtime.runner.listenAll(progress),
  ]
  app.addHook('onClose', async () => {
    for (const unsubscribe of unsubscribes) unsubscribe()
  })

  app.get('/api/scheduler/dashboard', {
    schema: {
      tags: ['scheduler'],
      security: [{ bearer: [] }],
      summary: 'For the dashboard: this process\'s cache answers per minute, current run progress per group, database reachability',
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async () => {
    const current = runtime.runner.current()
    return {
      instance: runtime.instanceId,
      database: await databaseReachable(runtime),
      series: { minutes: SERIES_MINUTES, points: series.points() },
      currentRun: current
        ? { runId: current.runId, trigger: current.trigger, groups: current.groups, startedAt: current.startedAt, instance: current.instance, progress: current.progress(), perGroup: progress.get(current.runId)?.groups ?? [] }
        : null,
      endpoints: { coverage: app.hasRoute({ method: 'GET', url: COVERAGE_ROUTE }) },
    }
  })
}
