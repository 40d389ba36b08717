// Issue 10: no client can fill the shared cache. After a warmup, 5,000 random distinct valid
// list queries (and a few repeated ones) on PostgreSQL + Redis: every answer is right, Redis
// holds at most the warm set plus the admission budget (keys and bytes), L1 stays under its
// bound, and every warmed key is still in L1 and answers as a hit.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { closeTestApp, get, urlForKey } from '../helpers/integration.ts'
import { keysUnder, rawRedis } from '../helpers/redis.ts'

const MAX_ADMITTED_KEYS = 40
const MAX_ADMITTED_MB = 2
const DISTINCT_QUERIES = 5000

/** A deterministic generator (mulberry32), so a failure can be replayed with the printed seed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

const skip = testDatabaseUrl && testRedisUrl ? false : 'needs PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)'

describe('admission bounds the shared tier whatever clients send [postgres, redis]', { skip }, () => {
  let testApp: TestApp | undefined
  const app = (): TestApp => testApp!

  before(async () => {
    testApp = await createTestApp({
      backend: 'postgres',
      redis: true,
      // A generous statement timeout: on a loaded machine the import and 5,000 loads must not time out.
      env: { CACHE_ADMIT_MAX_KEYS: String(MAX_ADMITTED_KEYS), CACHE_ADMIT_MAX_MB: String(MAX_ADMITTED_MB), CACHE_KEY_COUNT_SECONDS: '0', DATABASE_TIMEOUT_MS: '60000' },
    })
  })
  after(async () => {
    await closeTestApp(testApp)
  })

  test(`${DISTINCT_QUERIES} random distinct valid queries leave Redis within warm set + CACHE_ADMIT_MAX_KEYS, and warmed keys still hit in L1`, async () => {
    const redis = rawRedis(testRedisUrl!)
    try {
      const summary = await app().runtime.runner.run({ groups: ['all'], trigger: 'test' })
      assert.equal(summary.failed, 0)
      const prefix = app().runtime.cache.redisKeyPrefix
      const warmKeys = (await keysUnder(redis, prefix)).map((key) => key.slice(prefix.length + 1))
      assert.ok(warmKeys.length >= 5, `warmup wrote ${warmKeys.length} keys`)
      const warmBytes = await totalBytes(redis, warmKeys.map((key) => `${prefix}:${key}`))

      const filters = (await get(app(), '/api/schools/filters?level=primary')).json<{ filters: Record<string, { code: string }[]> }>()
      const districts = filters.filters.district!.map((option) => option.code)
      const seed = Number(process.env.ADMISSION_SEED ?? Date.now() % 100_000)
      const next = random(seed)
      const urls = new Set<string>()
      while (urls.size < DISTINCT_QUERIES) {
        const chosen = districts.filter(() => next() < 0.5)
        // Small pages: the test is about keys, and 5,000 loads of 100 schools would only cost time.
        const pageSize = 1 + Math.floor(next() * 10)
        urls.add(`/api/schools/primary?pageSize=${pageSize}${chosen.length > 0 ? `&district=${chosen.join(',')}` : ''}`)
      }
      // Some queries that traffic does repeat: admitted, within the budget.
      const repeated = [...urls].slice(0, 20)
      const list = [...urls, ...repeated, ...repeated]
      let index = 0
      const statuses = new Map<number, number>()
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (index < list.length) {
          const url = list[index++]!
          const answer = await get(app(), url)
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
          if (answer.status !== 200) assert.fail(`seed ${seed}: ${url} answered ${answer.status} ${answer.body}`)
        }
      }))
      assert.deepEqual([...statuses], [[200, list.length]])

      const stored = (await keysUnder(redis, prefix)).map((key) => key.slice(prefix.length + 1))
      const extra = stored.filter((key) => !warmKeys.includes(key))
      assert.ok(extra.length <= MAX_ADMITTED_KEYS, `seed ${seed}: ${extra.length} keys beyond the warm set in Redis (bound ${MAX_ADMITTED_KEYS})`)
      assert.ok(extra.length >= 1, 'repeated queries are admitted')
      const extraBytes = await totalBytes(redis, extra.map((key) => `${prefix}:${key}`))
      assert.ok(extraBytes <= MAX_ADMITTED_MB * 1024 * 1024, `seed ${seed}: ${extraBytes} bytes beyond the warm set`)
      assert.ok(warmBytes + extraBytes <= warmBytes + MAX_ADMITTED_MB * 1024 * 1024)

      const stats = await app().runtime.cache.stats()
      assert.ok(stats.l1Bytes <= app().config.cacheL1MaxBytes)
      assert.ok(stats.localOnlyKeys <= app().config.cacheLocalMaxItems)
      assert.ok((stats.admission?.probationLoads ?? 0) >= DISTINCT_QUERIES - MAX_ADMITTED_KEYS, JSON.stringify(stats.admission))

      for (const key of warmKeys) {
        assert.equal(app().runtime.cache.l1Holds(key), true, `warmed key ${key} was pushed out of L1`)
        const answer = await get(app(), urlForKey(key))
        assert.equal(answer.status, 200, key)
        assert.equal(answer.headers['x-cache'], 'hit', key)
      }
    } finally {
      redis.disconnect()
    }
  })
})

async function totalBytes(redis: ReturnType<typeof rawRedis>, keys: string[]): Promise<number> {
  const lengths = await Promise.all(keys.map((key) => redis.strlen(key)))
  return lengths.reduce((sum, length) => sum + length, 0)
}
