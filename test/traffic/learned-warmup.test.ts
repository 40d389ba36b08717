// The learned warm set end to end, on the real database and (when the run has one) Redis: two
// instances count into one table, what users asked for is warm after the next warmup of a
// fresh instance, a search seen once never reaches the database, and a learned key the data
// no longer allows is dropped and reported, not failed.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { adminGet, closeTestApp, get, preferredBackend, queriesDuring } from '../helpers/integration.ts'
import { describeResult, runCli } from '../cli/cli-process.ts'
import type { CoverageReport } from '../../src/schools/coverage.ts'

const learningEnv = { REQUEST_STATS: 'true', WARM_LEARNED: 'true', SEARCH_STATS_THRESHOLD: '3', WARM_LEARNED_COVERAGE: '1' }

async function getTimes(app: TestApp, url: string, times: number): Promise<void> {
  for (let index = 0; index < times; index += 1) {
    const answer = await get(app, url)
    assert.equal(answer.status, 200, `${url}: ${answer.body}`)
  }
}

async function storedKeys(app: TestApp): Promise<Map<string, number>> {
  const rows = await app.runtime.db.query<{ key: string; requests: number }>('SELECT key, sum(requests)::int AS requests FROM request_key_counts GROUP BY key')
  return new Map(rows.map((row) => [row.key, row.requests]))
}

describe(`learned warm set [${preferredBackend}, ${testRedisUrl ? 'redis' : 'memory'}]`, () => {
  const prefix = uniqueName('learned')
  let first: TestApp | undefined
  let second: TestApp | undefined
  const appA = (): TestApp => first!

  before(async () => {
    first = await createTestApp({ backend: preferredBackend, redis: Boolean(testRedisUrl), env: { ...learningEnv, REDIS_PREFIX: prefix } })
    second = await createTestApp({ backend: preferredBackend, redis: Boolean(testRedisUrl), database: first.database, env: { ...learningEnv, REDIS_PREFIX: prefix } })
  })
  after(async () => {
    await closeTestApp(second)
    await closeTestApp(first)
  })

  test('two instances count into one table; a 4xx is never counted', async () => {
    await getTimes(first!, '/api/schools/primary?page=2&pageSize=10', 3)
    await getTimes(second!, '/api/schools/primary?pageSize=10&page=2', 4)
    assert.equal((await get(first!, '/api/schools/primary?page=9999')).status, 400)
    await Promise.all([first!.runtime.learning.flush(), second!.runtime.learning.flush()])
    const keys = await storedKeys(first!)
    assert.equal(keys.get('list:primary?page=2&pageSize=10'), 7)
    assert.ok(![...keys.keys()].some((key) => key.includes('page=9999')))
  })

  test('a search seen once is never stored; one seen at the threshold is', async () => {
    await getTimes(first!, '/api/schools/secondary?q=Zzyzx%20Once', 1)
    await getTimes(first!, '/api/schools/secondary?q=college', 2)
    await getTimes(second!, '/api/schools/secondary?q=College', 2)
    await Promise.all([first!.runtime.learning.flush(), second!.runtime.learning.flush()])
    let keys = await storedKeys(first!)
    assert.ok(![...keys.keys()].some((key) => key.includes('q=')), `no search stored yet: ${[...keys.keys()].join(' ')}`)
    await getTimes(first!, '/api/schools/secondary?q=%20COLLEGE', 1)
    await first!.runtime.learning.flush()
    keys = await storedKeys(first!)
    assert.equal(keys.get('list:secondary?q=college'), 3, 'normalised as the cache key is, counted from when it reached the threshold')
    assert.ok(![...keys.keys()].some((key) => key.includes('zzyzx')))
  })

  test('a fresh instance on an empty cache serves what users asked for from cache after its boot warmup', async () => {
    await getTimes(first!, '/api/schools/secondary?page=3&pageSize=50', 5)
    const detailUrl = (await get(first!, '/api/schools/primary?pageSize=1')).json<{ items: { schoolNo: string }[] }>().items[0]!.schoolNo
    await getTimes(first!, `/api/schools/${detailUrl}`, 3)
    await first!.runtime.learning.flush()
    // A restarted deployment: the same database, an empty cache (a new Redis prefix).
    const fresh = await createTestApp({ backend: preferredBackend, redis: Boolean(testRedisUrl), database: first!.database, env: { ...learningEnv, REDIS_PREFIX: uniqueName('fresh') } })
    try {
      const summary = await fresh.runtime.runner.run({ groups: ['all'], trigger: 'boot' })
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors))
      assert.ok(summary.groups.includes('learned'))
      for (const url of ['/api/schools/secondary?page=3&pageSize=50', '/api/schools/primary?page=2&pageSize=10', `/api/schools/${detailUrl}`, '/api/schools/secondary?q=college']) {
        const { result, queries } = await queriesDuring(fresh, () => get(fresh, url))
        assert.equal(result.status, 200)
        // A search answer tells no cache state (it would reveal others' searches); no query says it was warm.
        assert.equal(result.headers['x-cache'], url.includes('q=') ? undefined : 'hit', url)
        assert.equal(queries, 0, url)
      }
      const learned = await fresh.runtime.learning.store.learned()
      assert.ok(learned.some((row) => row.key === 'list:secondary?page=3&pageSize=50' && row.state === 'warm'))
      // A learned search lives in the shared tier like a list (not the local tier's minute); any other search stays local.
      assert.ok(fresh.runtime.cache.l1Holds('list:secondary?q=college'), 'the learned search is in the shared tier')
      assert.equal((await get(fresh, '/api/schools/secondary?q=zzyzx')).status, 200)
      assert.equal(fresh.runtime.cache.l1Holds('list:secondary?q=zzyzx'), false, 'a search nobody repeated is not')
    } finally {
      await closeTestApp(fresh)
    }
  })

  test('a learned key the data no longer allows is dropped and reported, never failed', async () => {
    const store = appA().runtime.learning.store
    await store.add({
      since: Date.now(),
      keys: [
        { key: 'detail:999999999999', requestClass: 'details', requests: 50, misses: 50 },
        { key: 'list:primary?district=atlantis', requestClass: 'lists', requests: 40, misses: 1 },
        { key: 'list:primary?page=500', requestClass: 'lists', requests: 30, misses: 1 },
      ],
      classes: [{ requestClass: 'lists', requests: 70, cached: 0, warm: 0 }, { requestClass: 'details', requests: 50, cached: 0, warm: 0 }],
    })
    const coverage = await adminGet(appA(), '/api/scheduler/coverage')
    assert.equal(coverage.status, 200, coverage.body)
    const before = coverage.json<CoverageReport>()
    assert.deepEqual(before.nextWarmup.drop.map((row) => row.key).sort(), ['detail:999999999999', 'list:primary?district=atlantis'])
    assert.ok(before.nextWarmup.add.some((row) => row.key === 'list:primary?page=500'), 'past the end is found only when warmed')

    const summary = await appA().runtime.runner.run({ groups: ['learned'], trigger: 'test' })
    assert.equal(summary.status, 'succeeded')
    assert.equal(summary.failed, 0)
    const learned = await store.learned()
    const dropped = learned.filter((row) => row.state === 'dropped').map((row) => row.key).sort()
    assert.deepEqual(dropped, ['detail:999999999999', 'list:primary?district=atlantis', 'list:primary?page=500'])
    assert.match(learned.find((row) => row.key === 'list:primary?page=500')!.reason!, /past the last page/)
    const keys = await storedKeys(appA())
    for (const key of dropped) assert.ok(!keys.has(key), `${key} forgotten`)
    assert.ok(learned.some((row) => row.state === 'warm' && row.key === 'list:primary?page=2&pageSize=10'))
  })

  test('coverage: admin only; shares per class and window; top missed keys', async () => {
    assert.equal((await get(appA(), '/api/scheduler/coverage')).status, 401)
    const report = (await adminGet(appA(), '/api/scheduler/coverage')).json<CoverageReport>()
    const [day, week] = report.windows
    assert.equal(day!.window, '24h')
    assert.equal(week!.window, '7d')
    assert.deepEqual(day!.byClass.map((row) => row.requestClass), ['lists', 'details', 'filters', 'stats', 'searches'])
    assert.ok(day!.requests >= 20)
    assert.equal(day!.byClass.find((row) => row.requestClass === 'searches')!.requests, 8, 'every search counts in the class totals (the fresh instance read two too)')
    assert.ok(day!.cachedShare! > 0 && day!.cachedShare! < 1)
    assert.ok(report.topMissed.some((row) => row.key === 'list:primary?page=2&pageSize=10'))
    assert.equal(report.learning.droppedKeys, 3)
  })

  test('metrics: the learned-key count and the warm-set coverage gauge', async () => {
    const metrics = await get(appA(), '/metrics')
    assert.equal(metrics.status, 200)
    const warmLearned = (await appA().runtime.learning.store.learned()).filter((row) => row.state === 'warm').length
    assert.ok(warmLearned > 0)
    assert.match(metrics.body, new RegExp(`^schools_learned_keys ${warmLearned}$`, 'm'))
    assert.match(metrics.body, /^schools_warm_set_coverage_ratio (0|1|0\.\d+)$/m)
  })

  test('WARM_LEARNED=false: the learned group warms nothing, the statistics stay', async () => {
    const off = await createTestApp({ backend: preferredBackend, redis: Boolean(testRedisUrl), database: appA().database, env: { ...learningEnv, WARM_LEARNED: 'false', REDIS_PREFIX: uniqueName('off') } })
    try {
      const summary = await off.runtime.runner.run({ groups: ['learned'], trigger: 'test' })
      assert.equal(summary.keys, 0)
      assert.ok((await storedKeys(off)).size > 0)
    } finally {
      await closeTestApp(off)
    }
  })

  test('schools coverage --json prints the same report', { skip: testDatabaseUrl ? false : 'the CLI needs the PostgreSQL database the app uses' }, async () => {
    const result = await runCli(['coverage', '--json'], {
      DATABASE_URL: testDatabaseUrl!, DATABASE_SCHEMA: appA().database.config.databaseSchema, SCHEDULER: 'off', WARM_LIST_MAX_FILTERS: '0', ...learningEnv,
    })
    assert.equal(result.code, 0, describeResult(result))
    const report = JSON.parse(result.stdout) as CoverageReport
    assert.equal(report.learning.droppedKeys, 3)
    assert.ok(report.windows[0]!.requests >= 20)
    const text = await runCli(['coverage'], { DATABASE_URL: testDatabaseUrl!, DATABASE_SCHEMA: appA().database.config.databaseSchema, SCHEDULER: 'off', WARM_LIST_MAX_FILTERS: '0', ...learningEnv })
    assert.equal(text.code, 0, describeResult(text))
    assert.match(text.stdout, /top missed keys/)
  })
})
