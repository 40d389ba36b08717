// GET /api/scheduler/dashboard: what the operator dashboard needs besides the status and the
// run history: this process's per-minute cache answers (the hit-ratio chart), the runs going on
// with their per-group progress (this process's own from memory, those of other workers and
// instances from the progress board, see src/warmup/run-progress.ts), whether the database
// answers, and which optional admin endpoints exist. Registered inside the admin routes, so
// their bearer-token guard applies.
import { withTimeout } from '../async-limits.ts'
import type { FastifyInstance } from 'fastify'
import { RequestSeries } from '../cache/request-series.ts'
import type { Runtime } from '../runtime.ts'
import type { GroupProgress } from '../warmup/run-progress.ts'
import type { WarmupProgress, WarmupRunRecord } from '../warmup/summary.ts'

/** The chart's window: one hour of per-minute points. */
const SERIES_MINUTES = 60
const PING_TIMEOUT_MS = 2000
const COVERAGE_ROUTE = '/api/scheduler/coverage'
/** Running runs are looked for among the newest history rows (a row a dead process left 'running' drops out). */
const RECENT_RUNS_SCANNED = 10

/** A run going on, wherever it runs. */
export interface CurrentRun {
  runId: string
  trigger: string
  groups: string[]
  startedAt: string
  instance: string
  /** This process runs it (its figures are live); else they are as last published. */
  here: boolean
  /** Null until the running process has listed the run's keys (and, elsewhere, published them; or while the board is unreachable). */
  progress: WarmupProgress | null
  perGroup: GroupProgress[]
  updatedAt: string | null
}

/** Resolves `fallback` instead of failing or hanging: the dashboard is most needed while a dependency is down. */
async function bounded<T>(read: () => Promise<T>, fallback: T): Promise<T> {
  return withTimeout(read, PING_TIMEOUT_MS).catch(() => fallback)
}

/** This process's run first, then the runs the history shows running elsewhere, each with its progress. */
async function currentRuns(runtime: Pick<Runtime, 'runner' | 'history' | 'runProgress'>): Promise<CurrentRun[]> {
  const local = runtime.runner.current()
  const recent = await bounded<WarmupRunRecord[]>(() => runtime.history.recent(RECENT_RUNS_SCANNED), [])
  const runs: Omit<CurrentRun, 'progress' | 'perGroup' | 'updatedAt'>[] = []
  if (local) runs.push({ runId: local.runId, trigger: local.trigger, groups: local.groups, startedAt: local.startedAt, instance: local.instance, here: true })
  for (const row of recent) {
    if (row.status === 'running' && row.runId !== local?.runId) runs.push({ runId: row.runId, trigger: row.trigger, groups: row.groups, startedAt: row.startedAt, instance: row.instance, here: false })
  }
  if (runs.length === 0) return []
  const published = await bounded(() => runtime.runProgress.read(runs.map((run) => run.runId)), new Map())
  return runs.map((run) => {
    const found = published.get(run.runId)
    // No figures before the run has listed its keys (a total of 0 would read as done).
    const progress = found ? { keys: found.keys, completed: found.completed, warmed: found.warmed, failed: found.failed } : null
    return { ...run, progress, perGroup: found?.groups ?? [], updatedAt: found?.updatedAt ?? null }
  })
}

async function databaseReachable(runtime: Pick<Runtime, 'db'>): Promise<{ reachable: boolean; kind: string; detail?: string }> {
  try {
    await withTimeout(() => runtime.db.ping(), PING_TIMEOUT_MS, `no answer within ${PING_TIMEOUT_MS} ms`)
    return { reachable: true, kind: runtime.db.kind }
  } catch {
    // The error itself is in the server log; the page only needs to know.
    return { reachable: false, kind: runtime.db.kind, detail: 'database not answering' }
  }
}

export async function dashboardApiRoutes(app: FastifyInstance, options: { runtime: Pick<Runtime, 'db' | 'cache' | 'runner' | 'instanceId' | 'history' | 'runProgress'> }): Promise<void> {
  const { runtime } = options
  const series = new RequestSeries(SERIES_MINUTES)
  const unsubscribe = runtime.cache.onEvent((_policy, state) => series.record(state))
  app.addHook('onClose', async () => {
    unsubscribe()
  })

  app.get('/api/scheduler/dashboard', {
    schema: {
      tags: ['scheduler'],
      security: [{ bearer: [] }],
      summary: 'For the dashboard: this process\'s cache answers per minute, the runs going on (in any process) with their progress per group, database reachability',
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async () => {
    const [database, running] = await Promise.all([databaseReachable(runtime), currentRuns(runtime)])
    return {
      instance: runtime.instanceId,
      database,
      series: { minutes: SERIES_MINUTES, points: series.points() },
      currentRuns: running,
      endpoints: { coverage: app.hasRoute({ method: 'GET', url: COVERAGE_ROUTE }) },
    }
  })
}
