// Attacks on the admin API's bearer token: no token, a wrong one, one in the URL, and brute
// force from one address.
//
// Decision (and what is tested): while an address is locked out, every admin request from it
// gets 429, the right token included. If the right token still got through, the lock-out would
// tell an attacker which guess was right (200 against 429) and so would not slow brute force at
// all. The operator with the right token waits `retry-after` seconds (at most the 60 s window),
// or calls from another address, which is not affected; the first success resets the count.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { adminGuard } from '../../src/admin/auth.ts'
import { registerErrorHandler } from '../../src/http/error-handler.ts'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/env.ts'

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

  test(`brute force: after ${MAX_FAILURES} failures an address gets 429 with retry-after, the right token included`, async () => {
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

    // The right token from the locked-out address: refused exactly like a wrong guess, so the answer tells nothing.
    const right = await call(attacker, RIGHT)
    const wrong = await call(attacker, WRONG)
    assert.equal(right.statusCode, 429)
    assert.equal(right.json().error, wrong.json().error)
    // Spoofed forwarding headers do not help: the server does not trust them (no trustProxy).
    const spoofed = await call(attacker, { ...RIGHT, 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7' })
    assert.equal(spoofed.statusCode, 429)
    // Other addresses are not affected.
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

  test('a success resets the count: an admin who mistypes a few times is not locked out later', async () => {
    const admin = freshAddress()
    for (let attempt = 0; attempt < MAX_FAILURES - 1; attempt += 1) assert.equal((await call(admin, WRONG)).statusCode, 401)
    assert.equal((await call(admin, RIGHT)).statusCode, 200)
    for (let attempt = 0; attempt < MAX_FAILURES - 1; attempt += 1) assert.equal((await call(admin, WRONG)).statusCode, 401)
    assert.equal((await call(admin, RIGHT)).statusCode, 200)
  })
})

describe('admin lock-out window (the guard on a clock the test controls)', () => {
  let server: FastifyInstance | undefined
  let now = 1_000_000

  before(async () => {
    server = Fastify()
    registerErrorHandler(server)
    server.addHook('onRequest', adminGuard({ token: TEST_ADMIN_TOKEN, maxFailures: 3, windowMs: 60_000, now: () => now }))
    server.get('/admin', async () => ({ ok: true }))
    await server.ready()
  })

  after(async () => {
    await server?.close()
  })

  const call = (headers: Record<string, string>) => server!.inject({ method: 'GET', url: '/admin', headers, remoteAddress: '127.0.0.5' })

  test('the lock-out ends with its window; retry-after counts down to it', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) assert.equal((await call(WRONG)).statusCode, 401)
    const locked = await call(RIGHT)
    assert.equal(locked.statusCode, 429)
    assert.equal(locked.headers['retry-after'], '60')
    now += 45_000
    assert.equal((await call(RIGHT)).headers['retry-after'], '15')
    now += 15_001
    assert.equal((await call(RIGHT)).statusCode, 200, 'the right token works once the window has passed')
    // And the count starts again from zero.
    for (let attempt = 0; attempt < 3; attempt += 1) assert.equal((await call(WRONG)).statusCode, 401)
    assert.equal((await call(WRONG)).statusCode, 429)
  })
})
