// Redis dies under load. A real server process runs against a redis-server of this test's own;
// while a steady stream of requests reads warm keys and some cold ones, redis-server is killed
// (SIGKILL, like a crash), left dead for a few seconds and started again, empty, on the same
// port. Every answer must stay a 200 with the right body, the status must show the outage while
// it lasts, and Redis must fill up again afterwards.
//
// Registered when the test run has Redis (always in CI), like every Redis suite; the database is
// PostgreSQL when the run has it, else PGlite.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, uniqueName } from '../helpers/env.ts'
import { incompleteEntry, RequestStream, warmUrls, wholeLevel, expectedEtag, type ListItem, type StreamRequest } from '../helpers/faults-load.ts'
import { pollUntil, serverDatabase, ServerProcess, tempLogFile, type HttpResult, type ServerDatabase } from '../helpers/faults-server.ts'
import { headerOf } from '../helpers/process-server.ts'
import { keysUnder, OwnRedisServer, rawRedis, redisServerInstalled } from '../helpers/redis.ts'

interface Health {
  status: string
  database: { ok: boolean }
  cache: { ok: boolean; detail?: string }
}

/** Same document, ignoring `asOf` (stats says when it was computed, so a reload changes it). */
function sameDocument(expected: string, actual: string): boolean {
  const strip = (body: string): string => {
    const parsed = JSON.parse(body) as Record<string, unknown>
    delete parsed.asOf
    return JSON.stringify(parsed)
  }
  return strip(expected) === strip(actual)
}

function judgeAgainst(url: string, baseline: string): StreamRequest {
  return {
    url,
    judge: (result) => {
      if (headerOf(result, 'etag') !== expectedEtag(result.body, headerOf(result, 'content-encoding'))) return 'etag is not the hash of the body'
      return sameDocument(baseline, result.body) ? undefined : `body differs from the one before the outage: ${result.body.slice(0, 120)}`
    },
  }
}

/** A cold list page checked against the whole level read before the outage. */
function coldPage(level: 'primary' | 'secondary', all: ListItem[], page: number): StreamRequest {
  const pageSize = 10
  return {
    url: `/api/schools/${level}?pageSize=${pageSize}&page=${page}`,
    judge: (result) => {
      const body = JSON.parse(result.body) as { items: ListItem[]; total: number; page: number }
      const expected = all.slice((page - 1) * pageSize, page * pageSize).map((item) => item.schoolNo)
      if (body.total !== all.length) return `total ${body.total}, expected ${all.length}`
      const actual = body.items.map((item) => item.schoolNo)
      return JSON.stringify(actual) === JSON.stringify(expected) ? undefined : `page ${page} holds ${actual.join(',')}, expected ${expected.join(',')}`
    },
  }
}

function coldDetail(item: ListItem): StreamRequest {
  return {
    url: `/api/schools/${item.schoolNo}`,
    judge: (result) => {
      const body = JSON.parse(result.body) as ListItem
      return body.schoolNo === item.schoolNo && body.nameEn === item.nameEn && body.nameZh === item.nameZh ? undefined : `detail ${item.schoolNo} is ${result.body.slice(0, 120)}`
    },
  }
}

function redisOutageSuite(title: string, env: Record<string, string>): void {
  describe(title, () => {
    const prefix = uniqueName('faults_redis')
    let redis: OwnRedisServer | undefined
    let database: ServerDatabase | undefined
    let log: Awaited<ReturnType<typeof tempLogFile>> | undefined
    let server: ServerProcess | undefined
    const baseline = new Map<string, string>()
    let primary: ListItem[] = []
    let stream: RequestStream | undefined

    const running = (): ServerProcess => {
      if (!server) throw new Error('server not started')
      return server
    }
    const health = async (): Promise<Health> => JSON.parse((await running().get('/health', { timeoutMs: 5000 })).body) as Health

    before(async () => {
      assert.ok(redisServerInstalled(), 'redis-server must be on PATH: this suite runs its own Redis to kill it')
      redis = await OwnRedisServer.start()
      database = await serverDatabase()
      log = await tempLogFile()
      server = await ServerProcess.start({ ...database.env, REDIS_URL: redis.url, REDIS_PREFIX: prefix, LOG_FILE: log.file, ...env })
      await server.waitForBootWarmup()
      for (const url of warmUrls()) {
        const response = await server.get(url)
        assert.equal(response.status, 200, `${url}: ${response.body.slice(0, 200)}`)
        assert.equal(headerOf(response, 'x-cache'), 'hit', `${url} should have been warmed at boot`)
        baseline.set(url, response.body)
      }
      primary = await wholeLevel((url) => running().get(url), 'primary')
      assert.equal(primary.length, 693)
    })

    after(async () => {
      await stream?.stop()
      if (server) await server.stop().catch(() => server?.kill())
      await redis?.stop()
      await database?.drop()
      await log?.remove()
    })

    test('answers every request with the right body before, during and after the outage, and reports it', async (t) => {
      const ownRedis = redis!
      const warm = [...baseline.keys()]
      const get = (url: string, timeoutMs: number): Promise<HttpResult> => running().get(url, { timeoutMs })
      // Four of five requests read a warm key; every fifth a key nobody read yet (a list page, a school).
      stream = new RequestStream(get, (index) => {
        if (index % 5 !== 4) return judgeAgainst(warm[index % warm.length]!, baseline.get(warm[index % warm.length]!)!)
        const cold = Math.floor(index / 5)
        return cold % 2 === 0 ? coldPage('primary', primary, 1 + ((cold / 2) % 70)) : coldDetail(primary[(cold * 7) % primary.length]!)
      }, { workers: 4, maxRequests: 50_000, timeoutMs: 5000, pauseMs: 2 })

      await pollUntil(() => stream!.inPhase('before').length >= 50, 15_000, '50 answers before the outage')

      stream.phase = 'outage'
      await ownRedis.stop()
      const killedAt = Date.now()
      await pollUntil(async () => !(await health()).cache.ok, 5000, '/health to report the cache degraded')
      const duringOutage = await health()
      assert.equal(duringOutage.status, 'degraded')
      assert.equal(duringOutage.database.ok, true, 'the database is fine: /health stays 200')
      assert.match(duringOutage.cache.detail ?? '', /redis/i)
      const status = await running().admin('GET', '/api/scheduler/status', undefined, 10_000)
      assert.equal(status.status, 200, `status during the outage: ${status.body.slice(0, 300)}`)
      assert.equal((JSON.parse(status.body) as { cache: { redisReachable?: boolean } }).cache.redisReachable, false)
      // A few seconds dead, and enough requests to have gone through the dead Redis.
      await pollUntil(() => Date.now() - killedAt >= 3000 && stream!.inPhase('outage').length >= 100, 30_000, 'three seconds and 100 answers during the outage')

      stream.phase = 'after'
      await ownRedis.start()
      await pollUntil(async () => (await health()).cache.ok, 15_000, '/health to report the cache ok again')
      const afterOutage = await health()
      assert.equal(afterOutage.status, 'ok')

      // Hits resume: the restarted (empty) Redis fills up again with whole entries, and warm keys answer 'hit'.
      const client = rawRedis(ownRedis.url)
      try {
        await pollUntil(async () => (await keysUnder(client, `${prefix}:cache`)).length >= warm.length, 20_000, `Redis to hold at least the ${warm.length} warm keys again`)
        const answeredBy = stream.records.length
        await pollUntil(() => stream!.records.slice(answeredBy).some((record) => record.cache === 'hit' && warm.includes(record.url)), 10_000, 'a warm key to be a hit again')
        await stream.stop()
        const keys = await keysUnder(client, `${prefix}:cache`)
        for (const key of keys) assert.equal(incompleteEntry(await client.getBuffer(key)), undefined, `Redis key ${key}`)
      } finally {
        client.disconnect()
      }

      t.diagnostic(stream.summary())
      const problems = stream.problems()
      assert.deepEqual(problems.slice(0, 5), [], `${problems.length} wrong answers of ${stream.records.length}`)
      assert.ok(stream.inPhase('outage').every((record) => record.status === 200))
      assert.ok(stream.inPhase('after').length > 0)
    })

    test('the server survived the outage and shuts down cleanly', async () => {
      const exit = await running().stop('SIGTERM', 20_000)
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, running().tail())
    })
  })
}

if (skipUnlessServers('Redis outage', ['redis'])) {
  redisOutageSuite('Redis dies under load (memory L1 + Redis)', {})
  // Without L1 every read goes to Redis, so while it is dead every read falls through to the database.
  redisOutageSuite('Redis dies under load (Redis only, no L1)', { CACHE_L1: 'false' })
}
