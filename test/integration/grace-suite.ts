// Grace: when PostgreSQL stops answering, what was warmed keeps being served (stale) past its
// TTL, what was never cached fails fast with a clean 503, /health says so, and everything is
// fresh again once the database is back. A TCP proxy between the app and PostgreSQL cuts the
// line (refused connections, or a black hole that only timeouts reveal) or holds it (a query in
// flight that cannot finish), which also shows that a stale read never waits for its reload.
// (The full outage suite, with the server as a process, is test/faults/.) One file per cache
// mode, so the two run side by side.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { testDatabaseUrl } from '../helpers/env.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { closeTestApp, eventually, get, warmedUrls, type Answer, type CacheMode } from '../helpers/integration.ts'
import { SOURCE_DIR } from '../helpers/source-data.ts'
import { withClockAhead } from '../helpers/wait.ts'

const DATABASE_TIMEOUT_MS = 1500
/**
 * A cold request must fail, never hang: a hung one waits on a dead connection for minutes, so
 * this bound (many statement timeouts) tells the two apart on any machine, however loaded.
 */
const FAILURE_BOUND_MS = 20 * DATABASE_TIMEOUT_MS
/** Long in real time (nothing goes stale while the suite warms); the clock is moved past it instead. */
const TTL_SECONDS = 60

/** Runs `use` with the clock past every value's TTL (without waiting for it): values written at warm time read as stale. */
function pastTtl<T>(use: () => Promise<T>): Promise<T> {
  return withClockAhead(2 * TTL_SECONDS * 1000, use)
}

/** Registers the grace suite for one cache mode; the caller checks that PostgreSQL (and Redis) are there. */
export function graceSuite(mode: CacheMode): void {
  const databaseUrl = testDatabaseUrl
  if (!databaseUrl) throw new Error('the grace suite needs TEST_DATABASE_URL')
  const target = new URL(databaseUrl)
  describe(`grace while the database is down [postgres, ${mode}]`, () => {
    let proxy: FaultProxy
    let database: TestDatabase | undefined
    let testApp: TestApp | undefined
    const urls = warmedUrls()
    const warmed = new Map<string, Answer>()
    const app = (): TestApp => testApp!

    before(async () => {
      proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 5432) })
      // Imported directly first: the app's short statement timeout is for reads, not a bulk import.
      database = await createTestDatabase('postgres')
      await importSchools(database.db, bundledSourceFiles(SOURCE_DIR))
      testApp = await createTestApp({
        database,
        redis: mode === 'redis',
        env: {
          DATABASE_URL: proxy.rewrite(databaseUrl),
          DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS),
          CACHE_TTL_LIST: String(TTL_SECONDS),
          CACHE_TTL_STATS: String(TTL_SECONDS),
          CACHE_TTL_DETAIL: String(TTL_SECONDS),
        },
      })
      const summary = await app().runtime.runner.run({ groups: ['all'], trigger: 'test' })
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors))
      for (const url of urls) {
        const answer = await get(app(), url)
        assert.equal(answer.status, 200, url)
        warmed.set(url, answer)
      }
    })

    after(async () => {
      proxy?.restore()
      await closeTestApp(testApp)
      await database?.drop()
      await proxy?.close()
    })

    // First: the outage tests below leave failed reloads in their backoff (a few seconds in real
    // time), during which a stale read rightly starts no reload, so this one must not follow them.
    test('a stale read never waits for its reload: answers arrive while the reload is held', async () => {
      // Fresh values first (their ETags are what the stale reads must return), then let them pass their TTL.
      const before = new Map<string, string>()
      for (const url of urls) {
        const fresh = await eventually(async () => {
          const answer = await get(app(), url)
          return answer.headers['x-cache'] === 'hit' ? answer : undefined
        }, 20_000, `${url} fresh`, 200)
        before.set(url, String(fresh.headers.etag))
      }
      await pastTtl(async () => {
        proxy.hold()
        try {
          const completedBefore = app().runtime.db.counter.total
          const answers = await Promise.all(urls.map((url) => get(app(), url)))
          // Nothing reached the database and came back, and yet every request was answered.
          assert.equal(app().runtime.db.counter.total, completedBefore, 'no query completed while held')
          for (const [index, answer] of answers.entries()) {
            const url = urls[index]!
            assert.equal(answer.status, 200, url)
            assert.equal(answer.headers['x-cache'], 'stale', url)
            assert.equal(answer.headers.etag, before.get(url), `${url} returns the old body`)
          }
          await proxy.whenHeld(5000)
        } finally {
          proxy.release()
        }
      })
      // Stats carry their "as of" time: the reloaded bodies are what the outage tests must see served stale.
      for (const url of urls) {
        const reloaded = await eventually(async () => {
          const answer = await get(app(), url)
          return answer.headers['x-cache'] === 'hit' ? answer : undefined
        }, 20_000, `${url} reloaded after release`, 200)
        warmed.set(url, reloaded)
      }
    })

    // Each failure mode gets its own cold keys (after the restore they are cached); school
    // details are opt-in, so nothing warmed these two.
    const coldUrls = {
      refuse: ['/api/schools/primary?district=wan-chai', '/api/schools/secondary?district=islands', '/api/schools/115762000123'],
      blackhole: ['/api/schools/primary?district=tai-po', '/api/schools/secondary?district=north', '/api/schools/190144000133'],
    }

    for (const failure of ['refuse', 'blackhole'] as const) {
      test(`${failure}: warmed keys answer stale, cold keys 503 within a bound, health degraded; all fresh after restore`, async () => {
        proxy.cut(failure)
        try {
          await assertGrace(failure)
        } finally {
          proxy.restore()
        }
        await assertRecovered(failure)
      })
    }

    function assertGrace(failure: 'refuse' | 'blackhole'): Promise<void> {
      return pastTtl(() => assertStaleAndFailFast(failure))
    }

    async function assertStaleAndFailFast(failure: 'refuse' | 'blackhole'): Promise<void> {
      for (let round = 0; round < 2; round++) {
        for (const url of urls) {
          const answer = await get(app(), url)
          assert.equal(answer.status, 200, `${url} (round ${round}): ${answer.body.slice(0, 200)}`)
          assert.equal(answer.headers['x-cache'], 'stale', `${url} (round ${round})`)
          assert.equal(answer.headers.etag, warmed.get(url)!.headers.etag, `${url} serves the warmed body`)
          assert.equal(answer.body, warmed.get(url)!.body)
        }
      }

      for (const url of coldUrls[failure]) {
        const answer = await get(app(), url)
        assert.equal(answer.status, 503, `${url}: ${answer.body}`)
        assert.deepEqual(Object.keys(answer.json()).sort(), ['error', 'message'])
        assert.equal(answer.json().error, 'E_DATABASE_UNAVAILABLE')
        assert.ok(answer.elapsedMs < FAILURE_BOUND_MS, `${url} failed after ${Math.round(answer.elapsedMs)} ms, bound ${FAILURE_BOUND_MS}`)
      }

      const health = await get(app(), '/health')
      assert.equal(health.status, 503)
      assert.equal(health.json().status, 'degraded')
      assert.equal((health.json().database as { ok: boolean }).ok, false)
      assert.ok(health.elapsedMs < FAILURE_BOUND_MS, `health took ${Math.round(health.elapsedMs)} ms`)
    }

    async function assertRecovered(failure: 'refuse' | 'blackhole'): Promise<void> {
      // Reloads that failed are retried after a short backoff; then every key is fresh again.
      for (const url of urls) {
        const fresh = await eventually(async () => {
          const answer = await get(app(), url)
          return answer.status === 200 && answer.headers['x-cache'] === 'hit' ? answer : undefined
        }, 20_000, `${url} to be a hit after the restore`, 200)
        // Stats carry their "as of" time: a reload is a new body.
        warmed.set(url, fresh)
      }
      for (const url of coldUrls[failure]) {
        const answer = await eventually(async () => {
          const candidate = await get(app(), url)
          return candidate.status === 200 ? candidate : undefined
        }, 20_000, `${url} to answer 200 after the restore`, 200)
        assert.notEqual(answer.headers['x-cache'], 'stale')
      }
      const healthy = await eventually(async () => {
        const candidate = await get(app(), '/health')
        return candidate.status === 200 ? candidate : undefined
      }, 10_000, 'health to be ok again', 100)
      assert.equal(healthy.json().status, 'ok')
    }

  })
}
