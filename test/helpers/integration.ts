// Shared pieces of the integration suites (test/integration, test/admin, test/operations):
// which backends to run on, one app per cache mode, HTTP calls through inject, the URL a cache
// key answers, the warm queries of config/warm-targets.json, and cleanup of Redis keys.
import { readFileSync } from 'node:fs'
import { after, before, describe } from 'node:test'
import type { OutgoingHttpHeaders } from 'node:http'
import { WARM_TARGETS_FILE } from '../../src/schools/warm-targets.ts'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp, type TestAppOptions } from './app.ts'
import type { DatabaseBackend } from './database.ts'
import { skipUnlessServers, testDatabaseUrl, testRedisUrl } from './env.ts'
import { deleteKeysUnder, rawRedis } from './redis.ts'
import { delay, poll } from './wait.ts'

/**
 * PostgreSQL when the run has it (CI always does), else PGlite. These suites test the cache and
 * the warmup, not the database, and a PGlite app costs several times more to open.
 */
export const preferredBackend: DatabaseBackend = testDatabaseUrl ? 'postgres' : 'pglite'

export type CacheMode = 'memory' | 'redis'

/** memory always; memory + Redis when the run has a Redis. */
export function cacheModes(): CacheMode[] {
  return testRedisUrl ? ['memory', 'redis'] : ['memory']
}

/** Closes the app, then deletes whatever it left in Redis under its prefix (cache keys, BullMQ). */
export async function closeTestApp(testApp: TestApp | undefined): Promise<void> {
  if (!testApp) return
  await testApp.close()
  if (testApp.config.redisUrl) await deleteRedisPrefix(testApp.config.redisPrefix)
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  if (!testRedisUrl) return
  const client = rawRedis(testRedisUrl)
  try {
    await deleteKeysUnder(client, prefix)
  } finally {
    client.disconnect()
  }
}

/** Registers `suite` once per cache mode, each with its own app on the preferred backend. */
export function describeEachCacheMode(title: string, suite: (getApp: () => TestApp, mode: CacheMode) => void, options: Omit<TestAppOptions, 'redis' | 'backend'> = {}): void {
  skipUnlessServers(`${title} [${preferredBackend}, redis]`, ['redis'])
  for (const mode of cacheModes()) {
    describe(`${title} [${preferredBackend}, ${mode}]`, () => {
      let current: TestApp | undefined
      before(async () => {
        current = await createTestApp({ ...options, backend: preferredBackend, redis: mode === 'redis' })
      })
      after(async () => {
        await closeTestApp(current)
      })
      suite(() => {
        if (!current) throw new Error('test app not ready')
        return current
      }, mode)
    })
  }
}

export interface Answer {
  status: number
  headers: OutgoingHttpHeaders
  body: string
  elapsedMs: number
  json<T = Record<string, unknown>>(): T
}

export async function request(testApp: TestApp, method: 'GET' | 'POST', url: string, options: { headers?: Record<string, string>; body?: unknown; remoteAddress?: string } = {}): Promise<Answer> {
  const started = performance.now()
  const response = await testApp.app.inject({
    method,
    url,
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> }),
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
  })
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.body,
    elapsedMs: performance.now() - started,
    json: <T>() => JSON.parse(response.body) as T,
  }
}

export const get = (testApp: TestApp, url: string, headers: Record<string, string> = {}): Promise<Answer> => request(testApp, 'GET', url, { headers })

export const adminHeaders = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

export const adminGet = (testApp: TestApp, url: string): Promise<Answer> => request(testApp, 'GET', url, { headers: adminHeaders })

export const adminPost = (testApp: TestApp, url: string, body: unknown = {}): Promise<Answer> => request(testApp, 'POST', url, { headers: adminHeaders, body })

/** Database statements sent while `run` ran (the runtime's own counter). */
export async function queriesDuring<T>(testApp: TestApp, run: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const before = testApp.runtime.db.counter.total
  const result = await run()
  return { result, queries: testApp.runtime.db.counter.total - before }
}

/** The request whose answer is cached under `key` (the inverse of SchoolReads' key functions). */
export function urlForKey(key: string): string {
  if (key === 'stats') return '/api/schools/stats'
  const filters = /^filters:(primary|secondary)$/.exec(key)
  if (filters) return `/api/schools/filters?level=${filters[1]}`
  const detail = /^detail:(\d{12})$/.exec(key)
  if (detail) return `/api/schools/${detail[1]}`
  const list = /^list:(primary|secondary)(\?.*)?$/.exec(key)
  if (list) return `/api/schools/${list[1]}${list[2] ?? ''}`
  throw new Error(`no URL for cache key '${key}'`)
}

export interface WarmQuery {
  name: string
  url: string
  /** Needs an overlay the bundled data does not have (banding), so a warmup skips it. */
  needsOverlay: boolean
}

/** The list queries of config/warm-targets.json as request URLs, read straight from the file. */
export function warmListQueries(level: 'primary' | 'secondary'): WarmQuery[] {
  const document = JSON.parse(readFileSync(WARM_TARGETS_FILE, 'utf8')) as Record<string, Record<string, unknown>[]>
  return (document[level] ?? []).map((entry) => {
    const params = new URLSearchParams()
    for (const [field, value] of Object.entries(entry)) {
      if (field === 'name') continue
      for (const item of Array.isArray(value) ? value : [value]) params.append(field, String(item))
    }
    const query = params.toString()
    return { name: String(entry.name), url: `/api/schools/${level}${query ? `?${query}` : ''}`, needsOverlay: 'banding' in entry }
  })
}

/** Every URL a warmup of the non-opt-in groups keeps warm on the bundled data (no overlays). */
export function warmedUrls(): string[] {
  return [
    '/api/schools/filters?level=primary',
    '/api/schools/filters?level=secondary',
    '/api/schools/stats',
    ...(['primary', 'secondary'] as const).flatMap((level) => warmListQueries(level).filter((query) => !query.needsOverlay).map((query) => query.url)),
  ]
}

export { delay }

/** Polls `check` until it returns a value other than undefined; fails with `what` after `timeoutMs`. */
export function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, intervalMs = 50): Promise<T> {
  return poll(what, timeoutMs, async () => {
    const value = await check()
    return value === undefined ? undefined : { value }
  }, { intervalMs, reportErrors: true }).then((found) => found.value)
}
