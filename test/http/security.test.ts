// HTTP hygiene on the real app: CORS for an allow-list only, security headers on the API and on
// /docs (whose UI must still load under its CSP: the HTML and every asset it references), an
// x-request-id on every response and in the log line, and liveness/readiness.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Writable } from 'node:stream'
import pino from 'pino'
import { openRuntime, type Runtime } from '../../src/runtime.ts'
import { buildServer } from '../../src/server.ts'
import { createTestApp, TEST_ADMIN_TOKEN, testConfig, type TestApp } from '../helpers/app.ts'
import { IN_MEMORY, pgliteConfig } from '../helpers/database.ts'

const ALLOWED = 'https://schools.example.org'

describe('HTTP security headers, CORS, request ids', () => {
  let current: TestApp | undefined
  const app = (): TestApp => current!
  before(async () => {
    current = await createTestApp({ backend: 'pglite', env: { CORS_ORIGINS: `${ALLOWED},http://localhost:5173` } })
  })
  after(async () => {
    await current?.close()
  })

  test('a preflight from an allowed origin is answered for GET only, without credentials', async () => {
    const response = await app().app.inject({ method: 'OPTIONS', url: '/api/schools/primary', headers: { origin: ALLOWED, 'access-control-request-method': 'GET' } })
    assert.equal(response.statusCode, 204)
    assert.equal(response.headers['access-control-allow-origin'], ALLOWED)
    assert.equal(response.headers['access-control-allow-methods'], 'GET, HEAD')
    assert.equal(response.headers['access-control-allow-credentials'], undefined)
    const get = await app().app.inject({ method: 'GET', url: '/api/schools/stats', headers: { origin: ALLOWED } })
    assert.equal(get.statusCode, 200)
    assert.equal(get.headers['access-control-allow-origin'], ALLOWED)
    assert.match(String(get.headers['access-control-expose-headers']), /etag/)
    assert.match(String(get.headers.vary), /Origin/)
    assert.match(String(get.headers.vary), /Accept-Encoding/, 'CORS and compression both vary the response')
  })

  test('a refused origin gets no CORS headers, so the browser blocks it', async () => {
    for (const origin of ['https://evil.example.com', 'https://schools.example.org.evil.com', 'null']) {
      const preflight = await app().app.inject({ method: 'OPTIONS', url: '/api/schools/primary', headers: { origin, 'access-control-request-method': 'GET' } })
      assert.equal(preflight.headers['access-control-allow-origin'], undefined, origin)
      const get = await app().app.inject({ method: 'GET', url: '/api/schools/stats', headers: { origin } })
      assert.equal(get.headers['access-control-allow-origin'], undefined, origin)
    }
  })

  test('security headers on API responses, errors included', async () => {
    for (const url of ['/api/schools/stats', '/api/schools/primary?page=0', '/no/such/route', '/health']) {
      const response = await app().app.inject({ method: 'GET', url })
      assert.equal(response.headers['x-content-type-options'], 'nosniff', url)
      assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN', url)
      assert.match(String(response.headers['content-security-policy']), /default-src 'self'/, url)
      assert.doesNotMatch(String(response.headers['content-security-policy']), /upgrade-insecure-requests/, url)
    }
  })

  test('/docs loads under its CSP: the HTML, every script and stylesheet it references, and the document', async () => {
    const entry = await app().app.inject({ method: 'GET', url: '/docs' })
    const htmlUrl = entry.statusCode === 302 ? new URL(String(entry.headers.location), 'http://x/docs/').pathname : '/docs'
    const html = await app().app.inject({ method: 'GET', url: htmlUrl })
    assert.equal(html.statusCode, 200, `${htmlUrl}: ${html.body.slice(0, 200)}`)
    const csp = String(html.headers['content-security-policy'])
    assert.match(csp, /script-src 'self'/)
    assert.equal(html.headers['x-content-type-options'], 'nosniff')
    // The CSP allows scripts from this origin only, so the page must have no inline script.
    assert.doesNotMatch(html.body, /<script(?![^>]*\ssrc=)[^>]*>/i, 'no inline script, which the CSP would block')
    const assets = [...html.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!)
    assert.ok(assets.some((asset) => asset.endsWith('.js')) && assets.some((asset) => asset.endsWith('.css')), assets.join(', '))
    for (const asset of assets) {
      const url = new URL(asset, `http://x${htmlUrl}`)
      assert.equal(url.host, 'x', `${asset} is served by this origin ('self')`)
      const response = await app().app.inject({ method: 'GET', url: url.pathname })
      assert.equal(response.statusCode, 200, `${url.pathname}: ${response.statusCode}`)
    }
    const initializer = await app().app.inject({ method: 'GET', url: new URL('./swagger-initializer.js', `http://x${htmlUrl}`).pathname })
    const documentUrl = /url: ['"]([^'"]+)['"]/.exec(initializer.body)?.[1] ?? '/docs/json'
    const document = await app().app.inject({ method: 'GET', url: new URL(documentUrl, `http://x${htmlUrl}`).pathname })
    assert.equal(document.statusCode, 200)
    assert.equal((document.json() as { openapi: string }).openapi.slice(0, 2), '3.')
  })

  test('every response carries an x-request-id: a sane incoming one is kept, anything else replaced', async () => {
    const generated = await app().app.inject({ method: 'GET', url: '/api/schools/stats' })
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    const kept = await app().app.inject({ method: 'GET', url: '/api/schools/stats', headers: { 'x-request-id': 'lb-7f3a.42:abc' } })
    assert.equal(kept.headers['x-request-id'], 'lb-7f3a.42:abc')
    for (const insane of ['a b', 'x'.repeat(200), 'id\u0000', '{"json":1}', '']) {
      const replaced = await app().app.inject({ method: 'GET', url: '/api/schools/stats', headers: { 'x-request-id': insane } })
      assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/, JSON.stringify(insane))
    }
    for (const url of ['/no/such/route', '/api/schools/primary?page=0', '/api/schools/%E4%B8', '/api/scheduler/status']) {
      const response = await app().app.inject({ method: 'GET', url })
      assert.ok(response.statusCode >= 400, url)
      assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/, url)
    }
    const admin = await app().app.inject({ method: 'GET', url: '/api/scheduler/status', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    assert.ok(admin.headers['x-request-id'])
  })

  test('no cache-state header on search responses (it would tell who searched what); lists keep theirs', async () => {
    const search = await app().app.inject({ method: 'GET', url: '/api/schools/primary?q=holy' })
    assert.equal(search.statusCode, 200)
    assert.equal(search.headers['x-cache'], undefined)
    const again = await app().app.inject({ method: 'GET', url: '/api/schools/primary?q=holy' })
    assert.equal(again.headers['x-cache'], undefined)
    assert.ok(again.headers.etag)
    const list = await app().app.inject({ method: 'GET', url: '/api/schools/primary' })
    assert.ok(['hit', 'miss', 'stale'].includes(String(list.headers['x-cache'])))
  })

  test('liveness and readiness answer 200 on a running app', async () => {
    assert.deepEqual((await app().app.inject({ method: 'GET', url: '/health/live' })).json(), { status: 'ok' })
    const ready = await app().app.inject({ method: 'GET', url: '/health/ready' })
    assert.equal(ready.statusCode, 200)
  })
})

describe('request ids in the log, readiness before the boot warmup', () => {
  let runtime: Runtime | undefined
  const lines: Record<string, unknown>[] = []

  after(async () => {
    // The test closed the database itself; closing it again fails, and that is expected.
    await runtime?.close().catch(() => {})
  })

  test('the error log line of a request carries its request id; /health/ready is 503 until ready', async () => {
    // The runtime opens its own in-memory PGlite.
    const config = testConfig({ config: pgliteConfig(IN_MEMORY) }, { env: { LOG_LEVEL: 'info' } })
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
        done()
      },
    })
    const logger = pino({ level: 'info' }, sink)
    runtime = await openRuntime({ config, logger, defaultMetrics: false })
    let ready = false
    const app = await buildServer(runtime, TEST_ADMIN_TOKEN, { ready: () => ready })
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 503)
      assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
      ready = true
      assert.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
      // A 5xx is logged with the request's id: break the database under the app.
      await runtime.db.close()
      const failed = await app.inject({ method: 'GET', url: '/api/schools/secondary?pageSize=3&page=2', headers: { 'x-request-id': 'trace-me-123' } })
      assert.ok(failed.statusCode >= 500, `${failed.statusCode} ${failed.body}`)
      assert.equal(failed.headers['x-request-id'], 'trace-me-123')
      assert.ok(lines.some((line) => line.reqId === 'trace-me-123' && line.level === 50), JSON.stringify(lines.slice(-3)))
    } finally {
      await app.close()
    }
  })
})
