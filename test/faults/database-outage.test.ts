// PostgreSQL becomes unreachable. A real server process reaches PostgreSQL through a TCP proxy
// this test controls; with TTLs of 1 s the warm values go stale almost at once, so through the
// outage they are served from grace ('stale'), while keys that were never cached must fail fast
// with a clear 503 instead of hanging. Two ways to lose a database: connections refused (the
// server died) and connections that never answer (a partition), then recovery.
//
// Registered when the test run has PostgreSQL (always in CI): the proxy sits in front of it.
// Run twice: with Redis (the production setup: Redis L2 and the BullMQ scheduler) when the run
// has Redis, and memory-only with the local scheduler.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, testDatabaseUrl, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { expectedEtag, warmUrls, type ListPage } from '../helpers/faults-load.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { pollUntil, serverDatabase, ServerProcess, tempLogFile, type HttpResult, type ServerDatabase } from '../helpers/faults-server.ts'
import { headerOf } from '../helpers/process-server.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'

/**
 * Generous: the database timeout is 500 ms; this only tells "answered" from "hung" (a hung request
 * waits on a dead connection for minutes), so a loaded machine cannot cross it.
 */
const NO_HANG_MS = 20_000

interface Snapshot {
  body: string
  etag: string | null
}

/** Same document, ignoring `asOf` (stats says when it was computed, so a reload changes it). */
function withoutAsOf(body: string): string {
  const parsed = JSON.parse(body) as Record<string, unknown>
  delete parsed.asOf
  return JSON.stringify(parsed)
}

function assertUnavailable(url: string, response: HttpResult): void {
  assert.equal(response.status, 503, `${url}: ${response.status} ${response.body.slice(0, 200)}`)
  assert.deepEqual(JSON.parse(response.body), { error: 'E_DATABASE_UNAVAILABLE', message: 'The database is unavailable; try again shortly' }, url)
  assert.ok(response.elapsedMs < NO_HANG_MS, `${url} took ${Math.round(response.elapsedMs)} ms`)
}

function databaseOutageSuite(title: string, options: { redis: boolean }): void {
  describe(title, () => {
    const prefix = uniqueName('faults_pg')
    let proxy: FaultProxy | undefined
    let database: ServerDatabase | undefined
    let log: Awaited<ReturnType<typeof tempLogFile>> | undefined
    let server: ServerProcess | undefined
    /** Warm URLs (the boot warmup's and three school details read once) and what they said before the outage. */
    const baseline = new Map<string, Snapshot>()
    let coldUrls: string[] = []

    const running = (): ServerProcess => {
      if (!server) throw new Error('server not started')
      return server
    }
    const get = (url: string): Promise<HttpResult> => running().get(url, { timeoutMs: NO_HANG_MS * 2 })
    const snapshot = async (): Promise<Map<string, Snapshot>> => {
      const result = new Map<string, Snapshot>()
      for (const url of baseline.keys()) {
        const response = await get(url)
        assert.equal(response.status, 200, `${url}: ${response.body.slice(0, 200)}`)
        result.set(url, { body: response.body, etag: headerOf(response, 'etag') })
      }
      return result
    }

    before(async () => {
      proxy = await FaultProxy.start({ host: new URL(testDatabaseUrl!).hostname, port: Number(new URL(testDatabaseUrl!).port || 5432) })
      database = await serverDatabase({ databaseUrl: proxy.rewrite(testDatabaseUrl!), imported: true })
      log = await tempLogFile()
      server = await ServerProcess.start({
        ...database.env,
        ...(options.redis ? { REDIS_URL: testRedisUrl!, REDIS_PREFIX: prefix } : { SCHEDULER: 'local' }),
        LOG_FILE: log.file,
        DATABASE_TIMEOUT_MS: '500',
        CACHE_TTL_LIST: '1',
        CACHE_TTL_DETAIL: '1',
        CACHE_TTL_STATS: '1',
      })
      await server.waitForBootWarmup()
      const firstPage = JSON.parse((await get('/api/schools/primary')).body) as ListPage
      const details = firstPage.items.map((item) => `/api/schools/${item.schoolNo}`)
      for (const url of [...warmUrls(), ...details.slice(0, 3)]) {
        const response = await get(url)
        assert.equal(response.status, 200, `${url}: ${response.body.slice(0, 200)}`)
        baseline.set(url, { body: response.body, etag: headerOf(response, 'etag') })
      }
      // Never read before the outage: nothing cached to fall back on.
      coldUrls = [...details.slice(3, 6), '/api/schools/primary?pageSize=7&page=3', '/api/schools/secondary?pageSize=9&page=2&category=aided']
    })

    after(async () => {
      if (server) await server.stop().catch(() => server?.kill())
      await proxy?.close()
      await database?.drop()
      await log?.remove()
      if (options.redis) {
        const client = rawRedis(testRedisUrl!)
        await deleteKeysUnder(client, prefix).finally(() => client.disconnect())
      }
    })

    test('connections refused: warm keys answer from grace, cold keys 503 at once, /health degraded', async () => {
      proxy!.cut('refuse')
      const cutAt = Date.now()
      const seenStale = new Set<string>()
      // The whole outage, at least 3 s, and until every warm key has been served past its TTL.
      for (let round = 0; round < 500 && (Date.now() - cutAt < 3000 || seenStale.size < baseline.size); round += 1) {
        assert.ok(Date.now() - cutAt < 120_000, `warm keys never all served stale: ${[...baseline.keys()].filter((url) => !seenStale.has(url)).join(', ')}`)
        for (const [url, before] of baseline) {
          const response = await get(url)
          assert.equal(response.status, 200, `${url} during the outage: ${response.body.slice(0, 200)}`)
          assert.equal(withoutAsOf(response.body), withoutAsOf(before.body), `${url} changed during the outage`)
          assert.equal(headerOf(response, 'etag'), expectedEtag(response.body, headerOf(response, 'content-encoding')))
          assert.ok(['hit', 'stale'].includes(headerOf(response, 'x-cache') ?? ''), `${url}: x-cache ${headerOf(response, 'x-cache')}`)
          if (headerOf(response, 'x-cache') === 'stale') seenStale.add(url)
        }
        const cold = coldUrls[round % coldUrls.length]!
        assertUnavailable(cold, await get(cold))
      }
      const health = await get('/health')
      assert.equal(health.status, 503)
      assert.ok(health.elapsedMs < NO_HANG_MS)
      const body = JSON.parse(health.body) as { status: string; database: { ok: boolean } }
      assert.equal(body.status, 'degraded')
      assert.deepEqual(body.database, { ok: false, kind: 'postgres', detail: 'unreachable' }, 'a fixed detail, never the error text')
      assert.equal((await get('/health/live')).status, 200)
      assert.equal((await get('/health/ready')).status, 200, 'warm keys still serve: a database outage does not drain the instance')
    })

    test('a warmup during the outage reports its failures and leaves the cached values as they were', async () => {
      const beforeWarmup = await snapshot()
      const response = await running().admin('POST', '/api/scheduler/warmup', { type: 'all' })
      assert.equal(response.status, 200, `warmup during the outage: ${response.body.slice(0, 300)}`)
      const summary = JSON.parse(response.body) as { status: string; failed: number; errors: { key: string; message: string }[] }
      assert.ok(summary.failed > 0, `failed: ${summary.failed}`)
      assert.ok(summary.errors.length > 0 && summary.errors.every((error) => /database is unavailable/i.test(error.message)), JSON.stringify(summary.errors.slice(0, 3)))
      assert.ok(['failed', 'partial'].includes(summary.status), summary.status)
      assert.deepEqual(await snapshot(), beforeWarmup, 'same bodies and ETags after the failed warmup')
      // The admin status still answers, saying which part it cannot read.
      const status = await running().admin('GET', '/api/scheduler/status', undefined, 10_000)
      assert.equal(status.status, 200, status.body.slice(0, 300))
      assert.ok('unavailable' in (JSON.parse(status.body) as { recentRuns: object }).recentRuns)
    })

    test('connections that never answer: cold keys still 503 within the bound, warm keys still 200', async () => {
      proxy!.cut('blackhole')
      const cutAt = Date.now()
      for (let round = 0; round < 100 && Date.now() - cutAt < 2500; round += 1) {
        for (const [url, before] of baseline) {
          const response = await get(url)
          assert.equal(response.status, 200, `${url}: ${response.body.slice(0, 200)}`)
          assert.equal(withoutAsOf(response.body), withoutAsOf(before.body), url)
          assert.ok(response.elapsedMs < NO_HANG_MS, `${url} took ${Math.round(response.elapsedMs)} ms`)
        }
        const cold = coldUrls[round % coldUrls.length]!
        assertUnavailable(cold, await get(cold))
      }
      const health = await get('/health')
      assert.equal(health.status, 503)
      assert.ok(health.elapsedMs < NO_HANG_MS, `/health took ${Math.round(health.elapsedMs)} ms`)
    })

    test('pg_hba.conf rejects the server: cold keys 503 (not 500), /health in fixed words, the real error only in the log', async () => {
      proxy!.cut('reject-auth')
      for (const cold of coldUrls) assertUnavailable(cold, await get(cold))
      for (const [url] of baseline) assert.equal((await get(url)).status, 200, url)
      const health = await get('/health')
      assert.equal(health.status, 503)
      assert.deepEqual((JSON.parse(health.body) as { database: unknown }).database, { ok: false, kind: 'postgres', detail: 'unreachable' })
      for (const secret of ['pg_hba', '10.20.30.40', 'schools_owner', 'schools_production', String(proxy!.port)]) {
        assert.ok(!health.body.includes(secret), `/health shows '${secret}': ${health.body}`)
      }
      const logged = await running().waitForLog((line) => line.msg === 'health: database unreachable' && JSON.stringify(line).includes('no pg_hba.conf entry'), 10_000, 'the pg_hba error in the log')
      assert.equal(logged.level, 40)
      const before = running().output.filter((line) => line.includes('health: database unreachable')).length
      for (let probe = 0; probe < 5; probe += 1) assert.equal((await get('/health')).status, 503)
      assert.equal(running().output.filter((line) => line.includes('health: database unreachable')).length, before, 'one log line per change of state, not per probe')
    })

    test('everything recovers when the database is reachable again', async () => {
      proxy!.restore()
      await pollUntil(async () => (await get('/health')).status === 200, 20_000, '/health to answer 200 again')
      for (const url of coldUrls) {
        await pollUntil(async () => (await get(url)).status === 200, 10_000, `${url} to answer 200`)
      }
      const page = JSON.parse((await get('/api/schools/primary?pageSize=7&page=3')).body) as ListPage
      assert.equal(page.items.length, 7)
      assert.equal(page.total, 693)
      // Stale values are reloaded in the background (after the failure backoff) and become hits again.
      const hitAgain = new Set<string>()
      await pollUntil(async () => {
        for (const url of baseline.keys()) {
          if (!hitAgain.has(url) && headerOf(await get(url), 'x-cache') === 'hit') hitAgain.add(url)
        }
        return hitAgain.size === baseline.size
      }, 30_000, () => `hits again on ${[...baseline.keys()].filter((url) => !hitAgain.has(url)).join(', ')}`)
      const warmup = await running().admin('POST', '/api/scheduler/warmup', { type: 'all' })
      assert.equal(warmup.status, 200, warmup.body.slice(0, 300))
      const summary = JSON.parse(warmup.body) as { alreadyRunning: boolean; failed: number; startedAt: string }
      // Asked for after the recovery, it must run now and succeed, not hand back the run that failed during the outage.
      assert.equal(summary.alreadyRunning, false, `joined an earlier run: ${warmup.body.slice(0, 600)}`)
      assert.equal(summary.failed, 0, warmup.body.slice(0, 600))
    })

    test('shuts down cleanly afterwards', async () => {
      const exit = await running().stop('SIGTERM', 20_000)
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, running().tail())
      assert.ok(!running().output.some((line) => line.includes('"level":60')), 'no fatal log line')
    })
  })
}

if (skipUnlessServers('PostgreSQL outage', ['postgres'])) {
  if (skipUnlessServers('PostgreSQL unreachable (Redis L2, BullMQ scheduler)', ['redis'])) databaseOutageSuite('PostgreSQL unreachable (Redis L2, BullMQ scheduler)', { redis: true })
  databaseOutageSuite('PostgreSQL unreachable (memory cache, local scheduler)', { redis: false })
}
