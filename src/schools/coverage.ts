// The coverage report (GET /api/scheduler/coverage, `schools coverage`): over the last 24 hours
// and 7 days, how many successful reads there were, the share answered from cache (hit or
// stale) and the share whose key was in the warm set, per request class; the keys missed most;
// and what the next learned warmup would add and drop. The shape is documented in
// src/admin/coverage-routes.ts (coverageSchema).
import type { ClassCount } from '../traffic/request-stats.ts'
import { REQUEST_CLASSES } from './learned-keys.ts'
import type { Learning } from './learning.ts'

export interface ClassCoverage {
  requestClass: string
  requests: number
  /** null when there were no requests. */
  cachedShare: number | null
  warmShare: number | null
}

export interface WindowCoverage extends Omit<ClassCoverage, 'requestClass'> {
  window: '24h' | '7d'
  byClass: ClassCoverage[]
}

export interface CoverageReport {
  generatedAt: string
  learning: { enabled: boolean; coverageTarget: number; maxKeys: number; windowDays: number; learnedKeys: number; droppedKeys: number }
  windows: WindowCoverage[]
  topMissed: { key: string; requestClass: string; requests: number; misses: number }[]
  nextWarmup: {
    /** Learned keys the next warmup would warm, and the share of the learning window they bring the warm set to. */
    keys: number
    coveredShare: number
    add: { key: string; requestClass: string; requests: number }[]
    drop: { key: string; reason: string }[]
  }
}

const LISTED = 50
const TOP_MISSED = 20

const share = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole)

function summarise(window: '24h' | '7d', rows: ClassCount[]): WindowCoverage {
  const byClass = REQUEST_CLASSES.map((requestClass) => {
    const row = rows.find((candidate) => candidate.requestClass === requestClass) ?? { requests: 0, cached: 0, warm: 0 }
    return { requestClass, requests: row.requests, cachedShare: share(row.cached, row.requests), warmShare: share(row.warm, row.requests) }
  })
  const requests = rows.reduce((sum, row) => sum + row.requests, 0)
  const cached = rows.reduce((sum, row) => sum + row.cached, 0)
  const warm = rows.reduce((sum, row) => sum + row.warm, 0)
  return { window, requests, cachedShare: share(cached, requests), warmShare: share(warm, requests), byClass }
}

export async function coverageReport(learning: Learning, now = Date.now()): Promise<CoverageReport> {
  // This instance's counts since its last flush belong in the answer.
  await learning.flush()
  const { store, learned } = learning
  const [day, week, topMissed, current, plan] = await Promise.all([
    store.classTotals(24, now),
    store.classTotals(7 * 24, now),
    store.topKeys(24, TOP_MISSED, now, 'misses'),
    store.learned(),
    learned.plan(now),
  ])
  const currentWarm = new Set(current.filter((row) => row.state === 'warm').map((row) => row.key))
  const planned = new Set(plan.keys.map((row) => row.key))
  const add = plan.keys.filter((row) => !currentWarm.has(row.key)).map(({ key, requestClass, requests }) => ({ key, requestClass, requests }))
  const notPlanned = learned.settings.enabled ? 'no longer among the keys that reach the coverage target' : 'learning is off (WARM_LEARNED=false or REQUEST_STATS=false)'
  const drop = [
    ...[...currentWarm].filter((key) => !planned.has(key) && !plan.dropped.some((row) => row.key === key)).map((key) => ({ key, reason: notPlanned })),
    ...plan.dropped.map(({ key, reason }) => ({ key, reason })),
  ]
  const { settings } = learned
  return {
    generatedAt: new Date(now).toISOString(),
    learning: { enabled: settings.enabled, coverageTarget: settings.coverage, maxKeys: settings.maxKeys, windowDays: settings.windowDays, learnedKeys: currentWarm.size, droppedKeys: current.length - currentWarm.size },
    windows: [summarise('24h', day), summarise('7d', week)],
    topMissed,
    nextWarmup: { keys: plan.keys.length, coveredShare: plan.coveredShare, add: add.slice(0, LISTED), drop: drop.slice(0, LISTED) },
  }
}
