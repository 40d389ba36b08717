// GET /api/scheduler/runs (the run history a page at a time) and GET /api/scheduler/dashboard
// (what the dashboard page needs besides the status), through the real app on the run's
// preferred database: pages newest first with exact totals, bad paging is a 400 that names the
// parameter, the token is required; the dashboard answer counts this process's cache answers
// per minute and shows a held run's progress per group, whether this process runs it or another
// process does (with Redis: the other process publishes its progress on the shared board).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MAX_RUNS_PAGE_SIZE } from '../../src/admin/runs-routes.ts'
import type { SeriesPoint } from '../../src/cache/request-series.ts'
import type { CurrentRun } from '../../src/admin/dashboard-routes.ts'
import { WarmupHistory } from '../../src/warmup/history.ts'
import { deploymentBoardPrefix, RedisProgressBoard } from '../../src/warmup/progress-board.ts'
import { RunProgressTracker } from '../../src/warmup/run-progress.ts'
import { WarmupRunner } from '../../src/warmup/runner.ts'
import type { WarmupRunRecord, WarmupSummary } from '../../src/warmup/summary.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { testRedisUrl } from '../helpers/env.ts'
import { adminGet, deleteRedisPrefix, get, preferredBackend } from '../helpers/integration.ts'
import { appGroups, captureLogger, deferred, fakeTarget } from '../helpers/warmup-fakes.ts'

interface RunsPage {
  items: WarmupRunRecord[]
  page: number
  pageSize: number
  total: number
  totalPages: number
}

interface DashboardAnswer {
  instance: string
  database: { reachable: boolean; kind: string }
  series: { minutes: number; points: SeriesPoint[] }
  currentRuns: CurrentRun[]
  endpoints: { coverage: boolean }
}

const RUNS = 25

function summary(index: number): WarmupSummary {
  const startedAt = new Date(Date.UTC(2026, 0, 1, 0, index)).toISOString()
  return {
    runId: `run-${String(index).padStart(2, '0')}`, trigger: 'test', groups: ['stats'], instance: 'test#0', status: 'succeeded',
    keys: index, warmed: index, failed: 0, durationMs: 10, errors: [], slowest: [], startedAt, finishedAt: startedAt,
  }
}

describe(`admin API for the dashboard: runs pages and live figures [${preferredBackend}${testRedisUrl ? ', redis' : ''}]`, () => {
  let app: TestApp

  before(async () => {
    app = await createTestApp({ backend: preferredBackend, redis: Boolean(testRedisUrl) })
    for (let index = 1; index <= RUNS; index++) await app.runtime.history.recordFinish(summary(index))
  })
  after(async () => {
    await app?.close()
    if (app && testRedisUrl) await deleteRedisPrefix(app.config.redisPrefix)
  })

  test('pages of runs, newest first, with the total and the page count', async () => {
    const first = await adminGet(app, '/api/scheduler/runs?page=1&pageSize=10')
    assert.equal(first.status, 200, first.body)
    const page1 = first.json<RunsPage>()
    assert.deepEqual({ page: page1.page, pageSize: page1.pageSize, total: page1.total, totalPages: page1.totalPages }, { page: 1, pageSize: 10, total: RUNS, totalPages: 3 })
    assert.deepEqual(page1.items.map((run) => run.runId), Array.from({ length: 10 }, (_value, index) => `run-${RUNS - index}`))
    assert.equal(page1.items[0]!.keys, RUNS, 'items are full history records')

    const page3 = (await adminGet(app, '/api/scheduler/runs?page=3&pageSize=10')).json<RunsPage>()
    assert.deepEqual(page3.items.map((run) => run.runId), ['run-05', 'run-04', 'run-03', 'run-02', 'run-01'])
    const past = (await adminGet(app, '/api/scheduler/runs?page=4&pageSize=10')).json<RunsPage>()
    assert.deepEqual({ items: past.items, total: past.total, totalPages: past.totalPages }, { items: [], total: RUNS, totalPages: 3 })

    const defaults = (await adminGet(app, '/api/scheduler/runs')).json<RunsPage>()
    assert.deepEqual({ page: defaults.page, pageSize: defaults.pageSize, items: defaults.items.length }, { page: 1, pageSize: 20, items: 20 })
  })

  test('bad paging is a 400 naming the parameter; no token is a 401', async () => {
    for (const [query, parameter] of [
      ['page=0', 'page'], ['page=abc', 'page'], [`pageSize=${MAX_RUNS_PAGE_SIZE + 1}`, 'pageSize'], ['pageSize=0', 'pageSize'], ['page=1.5', 'page'],
    ] as const) {
      const answer = await adminGet(app, `/api/scheduler/runs?${query}`)
      assert.equal(answer.status, 400, `${query}: ${answer.body}`)
      assert.equal(answer.json<{ parameter?: string }>().parameter, parameter, query)
    }
    assert.equal((await adminGet(app, '/api/scheduler/runs?sort=asc')).status, 400, 'unknown parameters are refused')
    assert.equal((await get(app, '/api/scheduler/runs')).status, 401)
    assert.equal((await get(app, '/api/scheduler/dashboard')).status, 401)
  })

  test('the dashboard answer counts this process\'s cache answers in the current minute', async () => {
    const before = (await adminGet(app, '/api/scheduler/dashboard')).json<DashboardAnswer>()
    assert.equal(before.series.points.length, 60)
    assert.equal(before.database.reachable, true)
    assert.equal(before.database.kind, preferredBackend)
    assert.equal(typeof before.endpoints.coverage, 'boolean')
    await app.runtime.cache.expireAll()
    for (let index = 0; index < 3; index++) assert.equal((await get(app, '/api/schools/stats')).status, 200)
    const after = (await adminGet(app, '/api/scheduler/dashboard')).json<DashboardAnswer>()
    const sum = (points: SeriesPoint[]): number => points.reduce((total, point) => total + point.hit + point.stale + point.miss, 0)
    // The minute may turn between the two answers: compare the hour's totals, not one point.
    assert.equal(sum(after.series.points) - sum(before.series.points), 3, 'three answers counted')
    const minutes = after.series.points.map((point) => point.minute)
    assert.deepEqual(minutes, [...minutes].sort((a, b) => a - b), 'oldest first')
    assert.equal(minutes[59]! - minutes[0]!, 59 * 60_000, 'one point per minute over the hour')
  })

  test('the current run\'s progress per group, while a key is held', async () => {
    const gate = deferred()
    const reached = deferred()
    app.runtime.registry.register(fakeTarget('held-stats', 'stats', ['held-1', 'held-2'], {
      onWarm: async (key) => {
        if (key !== 'held-1') return
        reached.resolve()
        await gate.promise
      },
    }))
    const { run } = app.runtime.runner.start({ groups: ['stats'], trigger: 'test' })
    await reached.promise
    const answer = (await adminGet(app, '/api/scheduler/dashboard')).json<DashboardAnswer>()
    gate.resolve()
    const finished = await run.done
    assert.equal(answer.currentRuns.length, 1, JSON.stringify(answer.currentRuns))
    const current = answer.currentRuns[0]!
    assert.deepEqual({ runId: current.runId, here: current.here, instance: current.instance }, { runId: run.runId, here: true, instance: app.runtime.instanceId })
    const stats = current.perGroup.find((group) => group.group === 'stats')
    assert.ok(stats, JSON.stringify(current))
    assert.equal(stats.keys, finished.keys, 'the group\'s total is the run\'s planned keys')
    assert.ok(stats.completed < stats.keys, `held: ${stats.completed} of ${stats.keys} done`)
    assert.equal(current.progress?.keys, finished.keys)
    const idle = (await adminGet(app, '/api/scheduler/dashboard')).json<DashboardAnswer>()
    assert.deepEqual(idle.currentRuns, [])
  })

  test('a run another process runs shows with the progress it published', { skip: testRedisUrl ? false : 'needs Redis (the progress board)' }, async () => {
    // "Another process": its own runner and targets, the deployment's database and progress board.
    const gate = deferred()
    const reached = deferred()
    const registry = appGroups().register(fakeTarget('remote-stats', 'stats', ['r-1', 'r-2', 'r-3'], {
      onWarm: async (key) => {
        if (key !== 'r-2') return
        reached.resolve()
        await gate.promise
      },
    }))
    const tracker = new RunProgressTracker({ board: new RedisProgressBoard({ url: testRedisUrl!, prefix: deploymentBoardPrefix(app.config.redisPrefix) }) })
    const other = new WarmupRunner({ registry, logger: captureLogger().logger, instanceId: 'other#1', history: new WarmupHistory(app.runtime.db), concurrency: 1, onRunFinished: (summary) => tracker.finish(summary) })
    other.listenAll(tracker)
    try {
      const { run } = other.start({ groups: ['stats'], trigger: 'test:remote' })
      await reached.promise
      await tracker.published()
      const answer = (await adminGet(app, '/api/scheduler/dashboard')).json<DashboardAnswer>()
      gate.resolve()
      await run.done
      assert.equal(app.runtime.runner.current(), undefined, 'this process runs nothing')
      const current = answer.currentRuns.find((candidate) => candidate.runId === run.runId)
      assert.ok(current, JSON.stringify(answer.currentRuns))
      assert.deepEqual({ here: current.here, instance: current.instance, trigger: current.trigger, groups: current.groups }, { here: false, instance: 'other#1', trigger: 'test:remote', groups: ['stats'] })
      assert.equal(current.progress?.keys, 3)
      assert.ok(current.progress.completed < 3, `held: ${current.progress.completed} of 3`)
      assert.deepEqual(current.perGroup.map((group) => [group.group, group.keys]), [['stats', 3]])
      assert.ok(current.updatedAt, 'when it was published')
      const after = (await adminGet(app, '/api/scheduler/dashboard')).json<DashboardAnswer>()
      assert.deepEqual(after.currentRuns, [], 'finished: no longer current')
    } finally {
      gate.resolve()
      await other.close()
      await tracker.close()
    }
  })
})
