// Hostile input: generated requests (fast-check, several fixed seeds, printed) against every
// route, on PGlite and on PostgreSQL (with Redis) when the run has them, through the real app in process (app.inject: the HTTP parsing and routing are
// Fastify's own, and it is fast). Nothing may answer 5xx, every answer must be one a client can
// act on, and the cache must not grow beyond the queries that were valid: junk must not be
// able to fill the cache (and, with Redis, the shared cache).
//
// Allowed statuses, per route: 200, 304 (If-None-Match), 400, 404 (a school that does not
// exist); admin routes 401 without the right token and 429 once an address has failed too
// often; with the right token also 202 (an async warmup accepted), 413 for a body over the
// 64 KB limit (the limit exists to bound memory, and 413 is the status that says so) and 415 for
// a body that is not JSON (the honest answer to a media type the route does not accept). All
// are client errors the client caused; none is a server failure.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/app.ts'
import { availableBackends, type DatabaseBackend } from '../helpers/database.ts'
import { testRedisUrl } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'
import { CONTROL_CHARACTERS, hostileRequest, type HostileRequest, type RouteClass } from './hostile-requests.ts'

/** FAULTS_SEED replays one seed; by default three fixed seeds run, each FAULTS_RUNS requests. */
const SEEDS = process.env.FAULTS_SEED ? [Number(process.env.FAULTS_SEED)] : [20260527, 7, 424242]
const RUNS = Number(process.env.FAULTS_RUNS || 3000)

const PUBLIC_ALLOWED: Record<Exclude<RouteClass, 'admin-read' | 'admin-write'>, number[]> = {
  list: [200, 304, 400],
  detail: [200, 304, 400, 404],
  filters: [200, 304, 400],
  stats: [200, 304, 400],
  health: [200],
  docs: [200],
}

function allowedStatuses(request: HostileRequest): number[] {
  // 400 without the token too: a URL that cannot be decoded is refused before routing, so before auth.
  if (request.routeClass === 'admin-read') return request.authorized ? [200, 400, 404] : [400, 401, 429]
  if (request.routeClass === 'admin-write') return request.authorized ? [200, 202, 400, 413, 415] : [400, 401, 429]
  return PUBLIC_ALLOWED[request.routeClass]
}

/** Cached routes: a 200 or 304 of one of these may have created a cache key. */
const CACHED: RouteClass[] = ['list', 'detail', 'filters', 'stats']

function hostileInputSuite(backend: DatabaseBackend): void {
describe(`hostile input [${backend}${backend === 'postgres' && testRedisUrl ? ' + redis' : ''}]: ${RUNS} generated requests per seed, seeds ${SEEDS.join(', ')}`, () => {
  let current: TestApp | undefined
  let knownSchoolNos: string[] = []

  const app = (): TestApp => {
    if (!current) throw new Error('app not ready')
    return current
  }

  before(async () => {
    // PostgreSQL and Redis when the run has them (CI always does): the shared cache is the one junk must not fill.
    current = await createTestApp({ backend, redis: backend === 'postgres' && Boolean(testRedisUrl) })
    const authorization = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
    // Everything the warmup covers (filter options included, which list validation reads) is cached
    // before the run, so every key the run adds comes from a request of the run.
    const warmup = await current.app.inject({ method: 'POST', url: '/api/scheduler/warmup', headers: authorization, payload: { type: 'all' } })
    assert.equal(warmup.statusCode, 200, warmup.body)
    for (const level of ['primary', 'secondary']) {
      const page = await current.app.inject({ method: 'GET', url: `/api/schools/${level}?pageSize=5` })
      knownSchoolNos.push(...(page.json() as { items: { schoolNo: string }[] }).items.map((item) => item.schoolNo))
    }
    knownSchoolNos = [...new Set(knownSchoolNos)]
  })

  after(async () => {
    if (current?.config.redisUrl) {
      const client = rawRedis(current.config.redisUrl)
      await deleteKeysUnder(client, current.config.redisPrefix).finally(() => client.disconnect())
    }
    await current?.close()
  })

  test('a control character in q or in any other string parameter is a 400 naming it, without a query', async () => {
    const cases: [string, (text: string) => string][] = [
      ['q', (text) => `/api/schools/primary?q=${text}`],
      ['q', (text) => `/api/schools/secondary?pageSize=5&q=${encodeURIComponent('holy')}${text}`],
      ['district', (text) => `/api/schools/primary?district=kowloon-city${text}`],
      ['category', (text) => `/api/schools/secondary?category=${text}aided`],
      ['level', (text) => `/api/schools/filters?level=primary${text}`],
      ['schoolNo', (text) => `/api/schools/${text}12345678901`],
    ]
    const queriesBefore = app().runtime.db.counter.total
    for (const control of CONTROL_CHARACTERS) {
      for (const [parameter, url] of cases) {
        const request = url(encodeURIComponent(control))
        const response = await app().app.inject({ method: 'GET', url: request })
        assert.equal(response.statusCode, 400, `${request}: ${response.body}`)
        const body = response.json() as { error: string; parameter?: string; message: string }
        assert.equal(body.parameter, parameter, `${request}: ${response.body}`)
        if (parameter === 'q') assert.match(body.message, /control characters/)
      }
    }
    assert.equal(app().runtime.db.counter.total, queriesBefore, 'no database query for a refused parameter')
  })

  for (const SEED of SEEDS) test(`seed ${SEED}: never a 5xx, only the statuses each route allows, and the cache grows only by valid queries`, async (t) => {
    t.diagnostic(`fast-check seed ${SEED} (set FAULTS_SEED to replay another), ${RUNS} runs`)
    const keysBefore = (await app().runtime.cache.stats()).keys
    const validQueries = new Set<string>()
    const statuses = new Map<number, number>()

    await fc.assert(fc.asyncProperty(hostileRequest(knownSchoolNos, TEST_ADMIN_TOKEN), async (request) => {
      const response = await app().app.inject({
        method: request.method,
        url: request.url,
        headers: request.headers,
        remoteAddress: request.remoteAddress,
        ...(request.body !== undefined ? { payload: request.body } : {}),
      })
      const status = response.statusCode
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      const what = `${request.method} ${request.url.slice(0, 300)} (${request.routeClass}, authorized ${request.authorized}) -> ${status} ${response.body.slice(0, 300)}`
      assert.ok(status < 500, what)
      assert.ok(allowedStatuses(request).includes(status), what)
      if (status >= 400) {
        const body = response.json() as { error?: unknown; message?: unknown }
        assert.ok(typeof body.error === 'string' && typeof body.message === 'string', `error shape: ${what}`)
        if (status === 429) assert.match(String(response.headers['retry-after']), /^[1-9][0-9]*$/, what)
      }
      if (status === 200 && request.routeClass === 'list') {
        const page = response.json() as { items: unknown[]; total: number; pageSize: number }
        assert.ok(Array.isArray(page.items) && Number.isInteger(page.total) && page.items.length <= page.pageSize, what)
      }
      if ((status === 200 || status === 304) && CACHED.includes(request.routeClass)) validQueries.add(`${request.method} ${request.url}`)
    }), { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true })

    const stats = await app().runtime.cache.stats()
    t.diagnostic(`statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}; cache keys ${keysBefore} -> ${stats.keys}; distinct valid cached queries ${validQueries.size}`)
    // Each valid query (as spelled: several spellings share one canonical key, so this is an upper bound) may add one key; nothing else may.
    assert.ok(stats.keys - keysBefore <= validQueries.size, `cache grew by ${stats.keys - keysBefore} keys for ${validQueries.size} distinct valid queries`)
    assert.ok((statuses.get(400) ?? 0) > RUNS / 10, 'the generator must mostly produce rejected input, or this test proves little')
  })

  test('the app is intact afterwards: same data, no polluted prototypes', async () => {
    const page = await app().app.inject({ method: 'GET', url: '/api/schools/primary?pageSize=1' })
    assert.equal(page.statusCode, 200)
    assert.equal((page.json() as { total: number }).total, 693)
    const health = await app().app.inject({ method: 'GET', url: '/health' })
    assert.equal(health.statusCode, 200)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false)
  })
})
}

for (const backend of availableBackends()) hostileInputSuite(backend)
