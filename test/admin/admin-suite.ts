// The admin API of the warmup scheduler, on the real app: bearer-token guard (401 with
// www-authenticate, no tokens in URLs, 429 for an address that keeps failing), strict bodies,
// sync and async warmups and clear-and-warmup, one run at a time, the run record, the status.
// Registered per scheduler by admin-api.test.ts (local, memory cache) and
// admin-api-bullmq.test.ts (BullMQ, Redis), so the two run side by side.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { WarmupRunStatus, WarmupSummary } from '../../src/warmup/summary.ts'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/app.ts'
import { adminGet, adminPost, closeTestApp, eventually, get, preferredBackend, request, warmedUrls, type Answer } from '../helpers/integration.ts'

/** What the admin API answers for a run: the runner's summary (or a history row, possibly still running), plus whether the request joined it. */
type RunSummary = Omit<WarmupSummary, 'status'> & { status: WarmupRunStatus; alreadyRunning?: boolean }

export function adminApiSuite(setup: { scheduler: 'local' | 'bullmq'; redis: boolean }): void {
  describe(`admin API [${preferredBackend}, ${setup.scheduler}]`, () => {
    let testApp: TestApp | undefined
    const app = (): TestApp => testApp!

    before(async () => {
      testApp = await createTestApp({ backend: preferredBackend, redis: setup.redis, env: { SCHEDULER: setup.scheduler } })
      await app().runtime.scheduler!.start()
    })
    after(() => closeTestApp(testApp))

    const finished = (runId: string): Promise<RunSummary> => eventually(async () => {
      const answer = await adminGet(app(), `/api/scheduler/runs/${runId}`)
      if (answer.status !== 200) return undefined
      const record = answer.json<RunSummary>()
      return record.status === 'running' ? undefined : record
    }, 60_000, `run ${runId} to finish`, 100)

    const assertUnauthorized = (answer: Answer, what: string): void => {
      assert.equal(answer.status, 401, `${what}: ${answer.body}`)
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="admin"', what)
      assert.equal(answer.json().error, 'E_UNAUTHORIZED', what)
    }

    test('401 without a token, with a wrong one, and with the token in the query string', async () => {
      const remoteAddress = '198.51.100.1'
      assertUnauthorized(await request(app(), 'GET', '/api/scheduler/status', { remoteAddress }), 'no token')
      assertUnauthorized(await request(app(), 'GET', '/api/scheduler/status', { remoteAddress, headers: { authorization: 'Bearer wrong-token-0123456789' } }), 'wrong token')
      assertUnauthorized(await request(app(), 'GET', '/api/scheduler/status', { remoteAddress, headers: { authorization: `Basic ${TEST_ADMIN_TOKEN}` } }), 'not a bearer token')
      assertUnauthorized(await request(app(), 'GET', `/api/scheduler/status?token=${TEST_ADMIN_TOKEN}`, { remoteAddress }), 'token in the URL')
      const both = await request(app(), 'GET', `/api/scheduler/status?token=${TEST_ADMIN_TOKEN}`, { remoteAddress, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
      assertUnauthorized(both, 'token in the URL even with the header')
      assert.match(both.json<{ message: string }>().message, /header/i)
      assertUnauthorized(await request(app(), 'POST', '/api/scheduler/warmup', { remoteAddress, body: { type: 'all' } }), 'warmup without a token')
      assertUnauthorized(await request(app(), 'GET', '/api/scheduler/runs/wu-anything', { remoteAddress }), 'run without a token')
      assert.equal(app().runtime.runner.current(), undefined, 'nothing started')
      // The public API needs no token.
      assert.equal((await request(app(), 'GET', '/api/schools/stats', { remoteAddress })).status, 200)
    })

    test('400 naming the field for a bad body; nothing starts', async () => {
      const cases: [string, unknown, string][] = [
        ['/api/scheduler/warmup', { type: 'everything' }, 'type'],
        ['/api/scheduler/warmup', { async: 'yes' }, 'async'],
        ['/api/scheduler/warmup', { type: 'all', colour: 'blue' }, 'colour'],
        ['/api/scheduler/warmup', { type: 7 }, 'type'],
        ['/api/scheduler/clear-and-warmup', { type: 'all' }, 'type'],
        ['/api/scheduler/clear-and-warmup', { async: 'later' }, 'async'],
      ]
      for (const [url, body, field] of cases) {
        const answer = await adminPost(app(), url, body)
        assert.equal(answer.status, 400, `${url} ${JSON.stringify(body)}: ${answer.body}`)
        assert.equal(answer.json().parameter, field, `${url} ${JSON.stringify(body)}: ${answer.body}`)
        assert.match(answer.json<{ message: string }>().message, new RegExp(field))
      }
      assert.equal(app().runtime.runner.current(), undefined, 'nothing started')
    })

    test('sync warmup answers 200 with the summary', async () => {
      const answer = await adminPost(app(), '/api/scheduler/warmup', { type: 'primary' })
      assert.equal(answer.status, 200, answer.body)
      const summary = answer.json<RunSummary>()
      for (const field of ['runId', 'trigger', 'groups', 'keys', 'warmed', 'failed', 'durationMs', 'errors']) assert.ok(field in summary, `summary has ${field}: ${answer.body}`)
      assert.match(summary.runId, /^wu-/)
      assert.equal(summary.trigger, 'admin')
      assert.deepEqual(summary.groups, ['primary'])
      assert.equal(summary.keys, 9)
      assert.equal(summary.warmed, 9)
      assert.equal(summary.failed, 0)
      assert.equal(typeof summary.durationMs, 'number')
      assert.deepEqual(summary.errors, [])
      assert.equal(summary.alreadyRunning, false)
    })

    test('async warmup answers 202 with the run id; the run record shows it finished', async () => {
      const answer = await adminPost(app(), '/api/scheduler/warmup', { type: 'all', async: true })
      assert.equal(answer.status, 202, answer.body)
      const accepted = answer.json<{ runId: string; alreadyRunning: boolean; status: string }>()
      assert.equal(accepted.alreadyRunning, false)
      assert.equal(accepted.status, `/api/scheduler/runs/${accepted.runId}`)
      const record = await finished(accepted.runId)
      assert.equal(record.status, 'succeeded')
      assert.equal(record.keys, 17)
      assert.equal(record.trigger, 'admin')
    })

    test('a warmup asked for while one runs gets the running run; other groups wait their turn', async () => {
      // Every school's detail (1316 keys) runs long enough to be asked again meanwhile.
      const first = await adminPost(app(), '/api/scheduler/warmup', { type: 'details', async: true })
      assert.equal(first.status, 202, first.body)
      assert.equal(first.json().alreadyRunning, false)
      const runId = first.json<{ runId: string }>().runId
      const again = await adminPost(app(), '/api/scheduler/warmup', { type: 'details', async: true })
      assert.equal(again.status, 202, again.body)
      assert.deepEqual({ runId: again.json().runId, alreadyRunning: again.json().alreadyRunning }, { runId, alreadyRunning: true })
      // Other groups are not warmed in parallel: they get a run of their own that starts after.
      const other = await adminPost(app(), '/api/scheduler/warmup', { type: 'stats', async: true })
      assert.equal(other.status, 202, other.body)
      const otherRunId = other.json<{ runId: string }>().runId
      assert.notEqual(otherRunId, runId)
      const sync = await adminPost(app(), '/api/scheduler/warmup', { type: 'details' })
      assert.equal(sync.status, 200, sync.body)
      assert.equal(sync.json().runId, runId, 'the sync caller waits for the running run and gets its summary')
      assert.equal(sync.json().alreadyRunning, true)

      const record = await finished(runId)
      assert.equal(record.status, 'succeeded')
      assert.equal(record.keys, 1316)
      assert.deepEqual(record.groups, ['details'])
      const after = await finished(otherRunId)
      assert.equal(after.status, 'succeeded')
      assert.deepEqual(after.groups, ['stats'])
      const [details, stats] = await Promise.all([runId, otherRunId].map(async (id) => (await adminGet(app(), `/api/scheduler/runs/${id}`)).json<{ startedAt: string; finishedAt: string }>()))
      assert.ok(Date.parse(stats!.startedAt) >= Date.parse(details!.finishedAt), `the stats run started ${stats!.startedAt}, after the details run ended ${details!.finishedAt}`)
    })

    test('clear-and-warmup, sync then async, leaves every warm key a hit', async () => {
      const sync = await adminPost(app(), '/api/scheduler/clear-and-warmup', {})
      assert.equal(sync.status, 200, sync.body)
      const summary = sync.json<RunSummary>()
      assert.equal(summary.trigger, 'admin:clear')
      assert.equal(summary.keys, 17)
      assert.equal(summary.failed, 0)
      for (const url of warmedUrls()) assert.equal((await get(app(), url)).headers['x-cache'], 'hit', url)

      const async = await adminPost(app(), '/api/scheduler/clear-and-warmup', { async: true })
      assert.equal(async.status, 202, async.body)
      const record = await finished(async.json<{ runId: string }>().runId)
      assert.equal(record.status, 'succeeded')
      assert.equal(record.trigger, 'admin:clear')
    })

    test('status reports the scheduler, its jobs, runs and cache figures', async () => {
      const answer = await adminGet(app(), '/api/scheduler/status')
      assert.equal(answer.status, 200, answer.body)
      const status = answer.json<{
        scheduler: { backend: string; running: boolean; timeZone: string; jobs: { name: string; cron: string; groups: string[]; timeZone: string; nextRun: string | null }[] }
        currentRun: unknown
        recentRuns: { runId: string; status: string }[]
        groups: { name: string; optIn: boolean }[]
        cache: { hits: number; misses: number; hitRate: number; keys: number }
      }>()
      assert.equal(status.scheduler.backend, setup.scheduler)
      assert.equal(status.scheduler.running, true)
      assert.deepEqual(status.scheduler.jobs.map((job) => job.name), ['daily-all-0300', 'daily-all-0800', 'noon-lists', 'stats-filters-2h'])
      for (const job of status.scheduler.jobs) {
        assert.match(job.cron, /^\S+ \S+ \S+ \S+ \S+$/, job.name)
        assert.equal(job.timeZone, 'Asia/Hong_Kong')
        assert.ok(job.nextRun && Date.parse(job.nextRun) > Date.now(), `${job.name} next run ${job.nextRun}`)
        assert.ok(job.groups.length > 0)
      }
      assert.equal(status.currentRun, null)
      assert.ok(status.recentRuns.length >= 4, 'the runs of the tests above')
      assert.ok(status.recentRuns.every((run) => run.status !== 'running'))
      assert.deepEqual(status.groups.map((group) => [group.name, group.optIn]), [['primary', false], ['secondary', false], ['filters', false], ['stats', false], ['details', true], ['learned', false]])
      assert.ok(status.cache.hits > 0)
      assert.equal(typeof status.cache.misses, 'number')
      assert.ok(status.cache.hitRate > 0 && status.cache.hitRate <= 1)
      assert.ok(status.cache.keys >= 17)
    })

    test('an unknown run id is 404; a malformed one 400', async () => {
      const missing = await adminGet(app(), '/api/scheduler/runs/wu-does-not-exist')
      assert.equal(missing.status, 404)
      assert.equal(missing.json().error, 'E_NOT_FOUND')
      const malformed = await adminGet(app(), '/api/scheduler/runs/..%2F..%2Fetc')
      assert.equal(malformed.status, 400, malformed.body)
    })

    test('an address that keeps failing gets 429; the right token is never refused; others are unaffected', async () => {
      const remoteAddress = '203.0.113.7'
      const wrong = { authorization: 'Bearer not-the-token-at-all' }
      let limited: Answer | undefined
      for (let attempt = 0; attempt < 100 && !limited; attempt++) {
        const answer = await request(app(), 'GET', '/api/scheduler/status', { remoteAddress, headers: wrong })
        if (answer.status === 429) limited = answer
        else assert.equal(answer.status, 401)
      }
      assert.ok(limited, 'rate limited within 100 attempts')
      assert.equal(limited.json().error, 'E_TOO_MANY_ATTEMPTS')
      assert.ok(Number(limited.headers['retry-after']) > 0)
      const right = await request(app(), 'GET', '/api/scheduler/status', { remoteAddress, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
      assert.equal(right.status, 200, 'the right token is never refused, whoever failed before (test/faults/admin-auth.test.ts)')
      assert.equal((await request(app(), 'GET', '/api/scheduler/status', { remoteAddress, headers: wrong })).status, 429, 'the guesser stays locked')
      assert.equal((await adminGet(app(), '/api/scheduler/status')).status, 200, 'another address still works')
    })
  })
}
