// Redis trouble must cost the cache its shared layer, never a request: reads keep coming from
// L1 and loaders, nothing throws, nothing crashes the process, and when Redis is back the cache
// uses (and refills) it again. The first test needs no Redis at all; the second starts and kills
// a redis-server of its own.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createResponseCache, ResponseCache, type CachePolicy } from '../../src/cache/response-cache.ts'
import { uniqueName } from '../helpers/env.ts'
import { OwnRedisServer, rawRedis, redisServerInstalled, sparePort } from '../helpers/redis.ts'
import { eventually, sleep } from './support.ts'

const list: CachePolicy = { name: 'list', ttlSeconds: 300, graceSeconds: 3600 }
const search: CachePolicy = { name: 'search', ttlSeconds: 60, graceSeconds: 60, localOnly: true }
const body = (value: unknown): string => JSON.stringify(value)

/** Collects unhandled rejections while `run` runs (and a little after, for late ones). */
async function withoutUnhandledRejections(run: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = []
  const collect = (reason: unknown): void => {
    unhandled.push(reason)
  }
  process.on('unhandledRejection', collect)
  try {
    await run()
    await sleep(300)
  } finally {
    process.off('unhandledRejection', collect)
  }
  assert.deepEqual(unhandled, [], 'no unhandled rejections')
}

describe('Redis unreachable', () => {
  test('without Redis no invalidation arrives, so L1 copies are reloaded every outageL1Seconds instead of living their full TTL', async () => {
    const url = `redis://127.0.0.1:${await sparePort()}`
    const cache = new ResponseCache({ prefix: uniqueName('cache_down'), redisUrl: url, redisCommandTimeoutMs: 200, redisConnectTimeoutMs: 200, outageL1Seconds: 1 })
    try {
      assert.equal(await cache.ready(), false)
      let current = 'before'
      const loader = async (): Promise<string> => current
      assert.equal((await cache.getOrLoad('k', list, loader)).entry.body, body('before'))
      // Another instance changes the data; its invalidation cannot reach this one.
      current = 'after'
      assert.equal((await cache.getOrLoad('k', list, loader)).entry.body, body('before'))
      // The list TTL is 300 s: only the outage fallback can bring the new value within seconds.
      await eventually('the outage reload', async () => ((await cache.getOrLoad('k', list, loader)).entry.body === body('after') ? true : undefined), { timeoutMs: 6000 })
    } finally {
      await cache.close()
    }
  })

  test('a cache pointed at a port where nothing listens serves from loaders and memory, and every call returns', async () => {
    const url = `redis://127.0.0.1:${await sparePort()}`
    await withoutUnhandledRejections(async () => {
      const timeouts = { redisCommandTimeoutMs: 200, redisConnectTimeoutMs: 200 }
      const cache = new ResponseCache({ prefix: uniqueName('cache_down'), redisUrl: url, ...timeouts })
      const noL1 = new ResponseCache({ prefix: uniqueName('cache_down'), redisUrl: url, l1: false, ...timeouts })
      try {
        assert.equal(await cache.ready(), false)
        assert.deepEqual(cache.status(), { backend: 'redis', l1: true, redisReachable: false })
        assert.equal(cache.health().ok, false)

        const first = await cache.getOrLoad('k', list, async () => 'v1')
        const second = await cache.getOrLoad('k', list, async () => 'v2')
        assert.deepEqual([first.state, first.entry.body], ['miss', body('v1')])
        assert.deepEqual([second.state, second.entry.body], ['hit', body('v1')])
        assert.equal((await cache.getOrLoad('q', search, async () => 'q1')).state, 'miss')
        assert.equal((await cache.refresh('k', list, async () => 'v3')).body, body('v3'))
        await cache.expire('k')
        assert.deepEqual((await cache.getOrLoad('k', list, async () => 'v4')).entry.body, body('v3'))
        assert.ok(await cache.expireAll() >= 1)
        await cache.delete('k')
        await cache.clear()
        const stats = await cache.stats()
        assert.equal(stats.redisKeys, undefined)
        assert.equal(stats.redisReachable, false)

        // Without L1 there is nothing to serve from but the loader; it still must not throw.
        assert.equal((await noL1.getOrLoad('k', list, async () => 'only')).entry.body, body('only'))
        assert.equal((await noL1.getOrLoad('k', list, async () => 'again')).entry.body, body('again'))
      } finally {
        await Promise.all([cache.close(), noL1.close()])
      }
    })
  })
})

describe('Redis going away and coming back', { skip: redisServerInstalled() ? false : 'redis-server is not installed' }, () => {
  test('reads carry on through the outage; afterwards Redis is used and refilled again, and the bus works', async () => {
    const server = await OwnRedisServer.start()
    const raw = rawRedis(server.url)
    const prefix = uniqueName('cache_outage')
    const options = { prefix, redisUrl: server.url, redisCommandTimeoutMs: 300, redisConnectTimeoutMs: 500, redisCircuitBreakerMs: 500 }
    const a = await createResponseCache(options)
    const b = await createResponseCache(options)
    try {
      await withoutUnhandledRejections(async () => {
        await a.getOrLoad('k', list, async () => 'v1')
        assert.equal(await raw.exists(`${a.redisKeyPrefix}:k`), 1)

        await server.stop()
        await eventually('A to notice Redis is gone', () => (a.status().redisReachable === false ? true : undefined))
        const cached = await a.getOrLoad('k', list, async () => assert.fail('L1 still has it'))
        assert.deepEqual([cached.state, cached.entry.body], ['hit', body('v1')])
        assert.equal((await a.getOrLoad('n', list, async () => 'new')).state, 'miss')
        assert.equal((await a.refresh('k', list, async () => 'v2')).body, body('v2'))
        assert.equal(a.health().ok, false)

        // Back, and empty: a restarted Redis without persistence lost everything.
        await server.start()
        await eventually('A to reconnect', () => (a.status().redisReachable ? true : undefined))
        // On recovery A expires its L1 copies; its next reads serve them stale and write the reloads to Redis.
        await eventually('k to be back in Redis', async () => {
          const read = await a.getOrLoad('k', list, async () => 'v3')
          assert.notEqual(read.state, 'miss', 'no cold read after the outage')
          return (await raw.exists(`${a.redisKeyPrefix}:k`)) === 1 ? true : undefined
        })
        await eventually('n to be back in Redis', async () => {
          await a.getOrLoad('n', list, async () => 'new again')
          return (await raw.exists(`${a.redisKeyPrefix}:n`)) === 1 ? true : undefined
        })

        // The bus subscription survived the restart: B hears A again.
        await b.getOrLoad('k', list, async () => 'b-loaded')
        await a.refresh('k', list, async () => 'after')
        await eventually('B to hear the refresh', async () => ((await b.getOrLoad('k', list, async () => 'b-reloaded')).entry.body === body('after') ? true : undefined))
      })
    } finally {
      await Promise.all([a.close(), b.close()])
      raw.disconnect()
      await server.stop()
    }
  })
})
