// Attacks on the admin API's bearer token: no token, a wrong one, one in the URL, and brute
// force, from one client or many, direct or behind a trusted reverse proxy.
//
// Decision (and what is tested): failures are counted per client (request.ip, which believes
// X-Forwarded-For only from TRUSTED_PROXIES) through @fastify/rate-limit, in Redis when it is
// configured so that every worker and instance shares the count. A client past the limit gets
// 429 with retry-after for every further failure. The right token is never counted and never
// refused: nobody else's failures (another client behind the same proxy, an attacker who knows
// the admin's address) can lock the admin out. What stops a guesser is the token's size (16+
// characters; a generated one has 192 bits), not the lock-out, which bounds the failing
// requests each client makes us answer and log.
import assert from 'node:assert/strict'
import { after, before, describe, mock, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { adminGuard } from '../../src/admin/auth.ts'
import { adminLockoutPlugin } from '../../src/admin/lockout.ts'
import { registerErrorHandler } from '../../src/http/error-handler.ts'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'

const RIGHT = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
const WRONG = { authorization: `Bearer ${TEST_ADMIN_TOKEN}-wrong` }
/** The guard's defaults (src/admin/auth.ts): 20 failures per address per 60 s window. */
const MAX_FAILURES = 20
const WINDOW_SECONDS = 60

describe('admin API authentication (the real app)', () => {
  let current: TestApp | undefined
  let nextAddress = 10
  /** A loopback address no other test used, so each test starts with a clean failure count. */
  const freshAddress = (): string => `127.0.1.${nextAddress++}`
  const app = (): TestApp => {
    if (!current) throw new Error('app not ready')
    return current
  }
  const call = (address: string, headers: Record<string, string>, url = '/api/scheduler/status', method: 'GET' | 'POST' = 'GET') =>
    app().app.inject({ method, url, headers, remoteAddress: address, ...(method === 'POST' ? { payload: { type: 'stats' } } : {}) })

  before(async () => {
    // No data needed: the guard runs before any handler.
    current = await createTestApp({ backend: testDatabaseUrl ? 'postgres' : 'pglite', env: { AUTO_IMPORT: 'false' } })
  })

  after(async () => {
    await current?.close()
  })

  test('no token, a wrong token, a malformed header and a token in the URL are 401', async () => {
    const address = freshAddress()
    const cases: { headers: Record<string, string>; url?: string }[] = [
      { headers: {} },
      { headers: WRONG },
      { headers: { authorization: TEST_ADMIN_TOKEN } },
      { headers: { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString('base64')}` } },
      { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN} extra` } },
      { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}` } },
      { headers: {}, url: `/api/scheduler/status?token=${TEST_ADMIN_TOKEN}` },
      { headers: {}, url: `/api/scheduler/status?access_token=${TEST_ADMIN_TOKEN}` },
      // Even with the right header: a token in a URL ends up in logs and browser history, so it is refused.
      { headers: RIGHT, url: `/api/scheduler/status?token=${TEST_ADMIN_TOKEN}` },
    ]
    for (const { headers, url } of cases) {
      const response = await call(address, headers, url)
      assert.equal(response.statusCode, 401, `${JSON.stringify(headers)} ${url ?? ''}: ${response.body}`)
      assert.equal(response.json().error, 'E_UNAUTHORIZED')
      assert.match(String(response.headers['www-authenticate']), /^Bearer/)
      assert.ok(!response.body.includes(TEST_ADMIN_TOKEN), 'the token is never echoed back')
    }
    assert.ok(cases.length < MAX_FAILURES, 'this test stays under the lock-out threshold')
  })

  test('every admin route is guarded, before its own validation', async () => {
    const address = freshAddress()
    for (const [method, url] of [['GET', '/api/scheduler/status'], ['GET', '/api/scheduler/runs/wu-x'], ['POST', '/api/scheduler/warmup'], ['POST', '/api/scheduler/clear-and-warmup']] as const) {
      const response = await call(address, {}, url, method)
      assert.equal(response.statusCode, 401, `${method} ${url}`)
    }
  })

  test(`brute force: after ${MAX_FAILURES} failures a client gets 429 with retry-after; the right token still works`, async () => {
    const attacker = freshAddress()
    const statuses: number[] = []
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const response = await call(attacker, { authorization: `Bearer guess-${attempt}-${'x'.repeat(16)}` })
      statuses.push(response.statusCode)
      if (response.statusCode === 429) {
        assert.equal(response.json().error, 'E_TOO_MANY_ATTEMPTS')
        const retryAfter = Number(response.headers['retry-after'])
        assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW_SECONDS, `retry-after ${response.headers['retry-after']}`)
      }
    }
    assert.deepEqual(statuses, [...Array<number>(MAX_FAILURES).fill(401), ...Array<number>(30 - MAX_FAILURES).fill(429)])
    // The guesser stays locked: no token, a wrong one, a token in the URL.
    assert.equal((await call(attacker, WRONG)).statusCode, 429)
    assert.equal((await call(attacker, {})).statusCode, 429)
    assert.equal((await call(attacker, {}, `/api/scheduler/status?token=${TEST_ADMIN_TOKEN}`)).statusCode, 429)
    // The right token is never refused, even from the locked address (an admin behind the same NAT).
    assert.equal((await call(attacker, RIGHT)).statusCode, 200)
    // Spoofed forwarding headers do not help: without TRUSTED_PROXIES the server does not believe them.
    assert.equal((await call(attacker, { ...WRONG, 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7' })).statusCode, 429)
    // Other clients are not affected.
    assert.equal((await call(freshAddress(), WRONG)).statusCode, 401)
    assert.equal((await call(freshAddress(), RIGHT)).statusCode, 200)
  })

  test('failures on any admin route count towards the same limit', async () => {
    const attacker = freshAddress()
    const routes = [['GET', '/api/scheduler/status'], ['GET', '/api/scheduler/runs/wu-x'], ['POST', '/api/scheduler/warmup'], ['POST', '/api/scheduler/clear-and-warmup']] as const
    for (let attempt = 0; attempt < MAX_FAILURES; attempt += 1) {
      const [method, url] = routes[attempt % routes.length]!
      assert.equal((await call(attacker, WRONG, url, method)).statusCode, 401)
    }
    assert.equal((await call(attacker, WRONG, '/api/scheduler/warmup', 'POST')).statusCode, 429)
  })

  test('the public API is not counted: a locked client still reads schools', async () => {
    const attacker = freshAddress()
    for (let attempt = 0; attempt <= MAX_FAILURES; attempt += 1) await call(attacker, WRONG)
    assert.equal((await call(attacker, WRONG)).statusCode, 429)
    const health = await app().app.inject({ method: 'GET', url: '/health/live', remoteAddress: attacker })
    assert.equal(health.statusCode, 200)
  })
})

describe('admin lock-out behind a trusted reverse proxy (TRUSTED_PROXIES)', () => {
  let current: TestApp | undefined
  const PROXY = '10.0.0.5'
  before(async () => {
    current = await createTestApp({ backend: testDatabaseUrl ? 'postgres' : 'pglite', env: { AUTO_IMPORT: 'false', TRUSTED_PROXIES: `${PROXY},loopback` } })
  })
  after(async () => {
    await current?.close()
  })
  const viaProxy = (client: string, headers: Record<string, string>) =>
    current!.app.inject({ method: 'GET', url: '/api/scheduler/status', headers: { ...headers, 'x-forwarded-for': client }, remoteAddress: PROXY })

  test('each client behind the proxy has its own count: a guesser is locked, the admin is not', async () => {
    for (let attempt = 0; attempt < MAX_FAILURES; attempt += 1) assert.equal((await viaProxy('203.0.113.7', WRONG)).statusCode, 401)
    assert.equal((await viaProxy('203.0.113.7', WRONG)).statusCode, 429, 'the guesser is locked')
    // The admin, through the same proxy, after all those failures: a typo is a 401 (not 429), the right token 200.
    assert.equal((await viaProxy('198.51.100.2', WRONG)).statusCode, 401)
    assert.equal((await viaProxy('198.51.100.2', RIGHT)).statusCode, 200)
    // A guesser cannot escape its count by forging a hop in front: the proxy appends the real address last.
    assert.equal((await viaProxy('192.0.2.1, 203.0.113.7', WRONG)).statusCode, 429)
  })
})

if (testRedisUrl) {
  describe('admin lock-out shared by instances through Redis', () => {
    const prefix = uniqueName('lockout')
    const apps: TestApp[] = []
    before(async () => {
      for (let index = 0; index < 2; index += 1) {
        apps.push(await createTestApp({ backend: 'pglite', redis: true, env: { AUTO_IMPORT: 'false', REDIS_PREFIX: prefix } }))
      }
    })
    after(async () => {
      for (const app of apps) await app.close()
      const client = rawRedis(testRedisUrl!)
      await deleteKeysUnder(client, prefix).finally(() => client.disconnect())
    })

    test('failures on one instance count on the other; the right token works on both', async () => {
      const attacker = '127.0.3.9'
      const call = (index: number, headers: Record<string, string>) => apps[index]!.app.inject({ method: 'GET', url: '/api/scheduler/status', headers, remoteAddress: attacker })
      for (let attempt = 0; attempt < MAX_FAILURES; attempt += 1) assert.equal((await call(attempt % 2, WRONG)).statusCode, 401)
      assert.equal((await call(0, WRONG)).statusCode, 429)
      assert.equal((await call(1, WRONG)).statusCode, 429)
      assert.equal((await call(0, RIGHT)).statusCode, 200)
      assert.equal((await call(1, RIGHT)).statusCode, 200)
      const client = rawRedis(testRedisUrl!)
      try {
        const keys = await client.keys(`${prefix}:admin-failures:*`)
        assert.deepEqual(keys, [`${prefix}:admin-failures:${attacker}`])
        assert.ok((await client.pttl(keys[0]!)) > 0, 'the count expires with its window')
      } finally {
        client.disconnect()
      }
    })
  })
}

describe('admin lock-out window (on a clock the test controls)', () => {
  let server: FastifyInstance | undefined

  before(async () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
    server = Fastify()
    registerErrorHandler(server)
    await server.register(adminLockoutPlugin, { maxFailures: 3, windowMs: 60_000 })
    server.addHook('onRequest', adminGuard({ token: TEST_ADMIN_TOKEN }))
    server.get('/admin', async () => ({ ok: true }))
    await server.ready()
  })

  after(async () => {
    mock.timers.reset()
    await server?.close()
  })

  const call = (headers: Record<string, string>) => server!.inject({ method: 'GET', url: '/admin', headers, remoteAddress: '127.0.0.5' })

  test('the lock-out ends with its window; retry-after counts down to it', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) assert.equal((await call(WRONG)).statusCode, 401)
    const locked = await call(WRONG)
    assert.equal(locked.statusCode, 429)
    assert.equal(locked.headers['retry-after'], '60')
    assert.equal((await call(RIGHT)).statusCode, 200, 'the right token is never refused')
    mock.timers.tick(45_000)
    assert.equal((await call(WRONG)).headers['retry-after'], '15')
    mock.timers.tick(15_001)
    // A new window: the count starts again from zero.
    for (let attempt = 0; attempt < 3; attempt += 1) assert.equal((await call(WRONG)).statusCode, 401)
    assert.equal((await call(WRONG)).statusCode, 429)
  })
})
