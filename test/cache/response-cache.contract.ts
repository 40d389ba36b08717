// The behaviour every configuration of the response cache must show, registered once per
// configuration (memory only; memory + Redis; Redis without L1), in the manner of bentocache's
// own driver test suite. Each test opens caches with a prefix of its own and the suite clears
// their keys and closes their connections after it.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, mock, test } from 'node:test'
import type { Redis } from 'ioredis'
import { ClockBound, createResponseCache, type CachePolicy, type ResponseCache, type ResponseCacheOptions } from '../../src/cache/response-cache.ts'
import { uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, keysUnder, rawRedis } from '../helpers/redis.ts'
import { withClockAhead } from '../helpers/wait.ts'
import { countingLoader, deferred, eventually } from './support.ts'

export interface ContractConfiguration {
  name: string
  /** What every cache of this configuration gets (redisUrl, l1 ...). */
  options: Partial<ResponseCacheOptions>
  /** Set when the configuration stores in Redis: the suite then also looks at Redis directly. */
  redisUrl?: string
}

const list: CachePolicy = { name: 'list', ttlSeconds: 60, graceSeconds: 3600 }
/** One-second TTL, so tests can watch a value go stale. */
const shortLived: CachePolicy = { name: 'short', ttlSeconds: 1, graceSeconds: 3600 }
const search: CachePolicy = { name: 'search', ttlSeconds: 60, graceSeconds: 60, localOnly: true }

const body = (value: unknown): string => JSON.stringify(value)

/**
 * Moves the clock (Date only: timers, sockets and lru-cache's performance.now keep real time)
 * well past the entry's TTL instead of waiting for it: bentocache starts the TTL when it writes,
 * a moment after the loader stamped storedAt, and on a loaded machine that moment has no bound.
 * The clock stays there (frozen) for the rest of the test; afterEach puts it back.
 */
const pastTtl = async (entry: { storedAt: number }, policy: CachePolicy): Promise<void> => {
  mock.timers.enable({ apis: ['Date'], now: Math.max(Date.now(), entry.storedAt + policy.ttlSeconds * 1000) + 30_000 })
}

export function registerResponseCacheContract(configuration: ContractConfiguration): void {
  describe(`response cache contract [${configuration.name}]`, () => {
    const opened: ResponseCache[] = []
    let raw: Redis | undefined

    const open = async (overrides: Partial<ResponseCacheOptions> = {}): Promise<ResponseCache> => {
      const cache = await createResponseCache({ prefix: uniqueName('cache_contract'), ...configuration.options, ...overrides })
      opened.push(cache)
      return cache
    }

    before(() => {
      if (configuration.redisUrl) raw = rawRedis(configuration.redisUrl)
    })
    afterEach(async () => {
      mock.timers.reset()
      for (const cache of opened.splice(0)) {
        await cache.clear()
        if (raw) await deleteKeysUnder(raw, cache.redisKeyPrefix)
        await cache.close()
      }
    })
    after(() => {
      raw?.disconnect()
    })

    test('a first read runs the loader (miss), the next one does not (hit); the body is stored serialised with a strong ETag', async () => {
      const cache = await open()
      const loader = countingLoader(() => ({ schools: ['中華基督教會基慧小學'], page: 1 }))
      const first = await cache.getOrLoad('list:a', list, loader.load)
      const second = await cache.getOrLoad('list:a', list, loader.load)
      assert.equal(first.state, 'miss')
      assert.equal(second.state, 'hit')
      assert.equal(loader.calls, 1)
      assert.equal(second.entry.body, body({ schools: ['中華基督教會基慧小學'], page: 1 }))
      assert.match(second.entry.etag, /^"[A-Za-z0-9_-]{27}"$/)
      assert.equal(second.entry.etag, first.entry.etag)
      assert.equal(second.entry.storedAt, first.entry.storedAt)
    })

    test('peek: the fresh copy in memory, counted as a hit, synchronously; nothing for a key never read, past its TTL, or local-only', async () => {
      const cache = await open()
      const seen: string[] = []
      cache.onEvent((policy, state, key) => seen.push(`${policy}:${state}:${key}`))
      assert.equal(cache.peek('list:p', list), undefined)
      const loaded = await cache.getOrLoad('list:p', list, async () => ({ page: 1 }))
      await cache.getOrLoad('search:p', search, async () => ({ q: 'p' }))
      const peeked = cache.peek('list:p', list)
      // Without L1 every read is a Redis round trip: nothing is answered synchronously.
      if (configuration.options.l1 === false) assert.equal(peeked, undefined)
      else {
        assert.equal(peeked?.etag, loaded.entry.etag)
        // Memory keeps entries without their identity bytes (entry-serializer.ts); they decompress to the same body.
        assert.equal(peeked?.holdsIdentity, false)
        assert.ok(peeked?.identity.equals(loaded.entry.identity))
      }
      assert.equal(cache.peek('search:p', search), undefined)
      await pastTtl(loaded.entry, list)
      assert.equal(cache.peek('list:p', list), undefined)
      const counted = configuration.options.l1 === false ? [] : ['list:hit:list:p']
      assert.deepEqual(seen, ['list:miss:list:p', 'search:miss:search:p', ...counted])
    })

    test('equal bodies get equal ETags, different bodies different ones', async () => {
      const cache = await open()
      const a = await cache.getOrLoad('a', list, async () => ({ x: 1 }))
      const b = await cache.getOrLoad('b', list, async () => ({ x: 1 }))
      const c = await cache.getOrLoad('c', list, async () => ({ x: 2 }))
      assert.equal(a.entry.etag, b.entry.etag)
      assert.notEqual(a.entry.etag, c.entry.etag)
    })

    test('with nothing cached, a loader error reaches the caller unchanged and nothing is stored', async () => {
      const cache = await open()
      const failure = new Error('database down')
      await assert.rejects(cache.getOrLoad('k', list, async () => {
        throw failure
      }), (error) => error === failure)
      const after = await cache.getOrLoad('k', list, async () => 'back')
      assert.equal(after.state, 'miss')
      assert.equal(after.entry.body, body('back'))
    })

    test('50 concurrent reads of a cold key run the loader once', async () => {
      const cache = await open()
      const gate = deferred<void>()
      const loader = countingLoader(async () => {
        await gate.promise
        return { value: 'once' }
      })
      const reads = Array.from({ length: 50 }, () => cache.getOrLoad('cold', list, loader.load))
      setImmediate(() => gate.resolve())
      const results = await Promise.all(reads)
      assert.equal(loader.calls, 1)
      assert.equal(results.filter((result) => result.state === 'miss').length, 1)
      assert.equal(results.filter((result) => result.state === 'hit').length, 49)
      assert.ok(results.every((result) => result.entry.body === body({ value: 'once' })))
    })

    test('past its TTL a value is served stale at once while one background reload runs, then the new value is a hit', async () => {
      const cache = await open()
      const first = await cache.getOrLoad('swr', shortLived, async () => 'v1')
      await pastTtl(first.entry, shortLived)

      const reload = deferred<unknown>()
      const loader = countingLoader(() => reload.promise)
      // The reload has not finished (it cannot: the test holds it), yet every read is answered.
      const reads = await Promise.all(Array.from({ length: 10 }, () => cache.getOrLoad('swr', shortLived, loader.load)))
      assert.ok(reads.every((read) => read.state === 'stale' && read.entry.body === body('v1')))
      assert.equal(loader.calls, 1)

      reload.resolve('v2')
      const fresh = await eventually('the background reload to land', async () => {
        const read = await cache.getOrLoad('swr', shortLived, loader.load)
        return read.entry.body === body('v2') ? read : undefined
      })
      assert.equal(fresh.state, 'hit')
      assert.equal(loader.calls, 1)
    })

    test('a load in flight while everything is expired is stored already stale, so the next read reloads it', async () => {
      const cache = await open()
      const inFlight = deferred<unknown>()
      const loading = deferred<void>()
      const reading = cache.getOrLoad('race', list, () => {
        loading.resolve()
        return inFlight.promise
      })
      // The change (an import) and its expiry happen while the old data is on its way back.
      await loading.promise
      await cache.expireAll()
      inFlight.resolve('before the change')
      const answered = await reading
      assert.deepEqual([answered.state, answered.entry.body], ['miss', body('before the change')])
      // A second later (the clock moved, not waited for), well within the list TTL.
      mock.timers.enable({ apis: ['Date'], now: Date.now() + 1000 })
      const loader = countingLoader(() => 'after the change')
      const next = await cache.getOrLoad('race', list, loader.load)
      assert.deepEqual([next.state, next.entry.body], ['stale', body('before the change')], 'the raced value is not kept as fresh')
      const fresh = await eventually('the reload to land', async () => {
        const read = await cache.getOrLoad('race', list, loader.load)
        return read.entry.body === body('after the change') ? read : undefined
      })
      assert.deepEqual([fresh.state, loader.calls], ['hit', 1])
    })

    test('grace: past the TTL, a failing loader is hidden behind the last good value and not retried per request', async () => {
      const cache = await open()
      const first = await cache.getOrLoad('grace', shortLived, async () => 'good')
      await pastTtl(first.entry, shortLived)
      const loader = countingLoader(() => {
        throw new Error('database down')
      })
      for (let request = 0; request < 20; request += 1) {
        const read = await cache.getOrLoad('grace', shortLived, loader.load)
        assert.equal(read.state, 'stale')
        assert.equal(read.entry.body, body('good'))
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.equal(loader.calls, 1, 'a failed background reload backs off instead of running once per request')
    })

    test('refresh() replaces the stored value; a failing refresh throws and leaves it intact', async () => {
      const cache = await open()
      await cache.getOrLoad('r', list, async () => 'v1')
      const refreshed = await cache.refresh('r', list, async () => 'v2')
      assert.equal(refreshed.body, body('v2'))
      const afterRefresh = await cache.getOrLoad('r', list, async () => assert.fail('a fresh value must not reload'))
      assert.deepEqual([afterRefresh.state, afterRefresh.entry.body], ['hit', body('v2')])

      const failure = new Error('warmup query failed')
      await assert.rejects(cache.refresh('r', list, async () => {
        throw failure
      }), (error) => error === failure)
      const afterFailure = await cache.getOrLoad('r', list, async () => assert.fail('the old value must still be fresh'))
      assert.deepEqual([afterFailure.state, afterFailure.entry.body], ['hit', body('v2')])
    })

    test('refresh() of a key never read stores it', async () => {
      const cache = await open()
      await cache.refresh('warm', list, async () => 'warmed')
      const read = await cache.getOrLoad('warm', list, async () => assert.fail('warmed keys are hits'))
      assert.deepEqual([read.state, read.entry.body], ['hit', body('warmed')])
    })

    test('expireAll() keeps serving the old values (stale) and reloads each key once in the background', async () => {
      const cache = await open()
      const keys = ['e1', 'e2', 'e3']
      for (const key of keys) await cache.getOrLoad(key, list, async () => `${key}:v1`)
      assert.ok(await cache.expireAll() >= keys.length)

      // The reloads are held until the burst is answered: nobody may wait for them.
      const reloads = deferred<void>()
      const loader = countingLoader(async () => {
        await reloads.promise
        return 'v2'
      })
      const burst = await Promise.all(keys.flatMap((key) => Array.from({ length: 5 }, async () => ({ key, read: await cache.getOrLoad(key, list, loader.load) }))))
      assert.ok(burst.every(({ key, read }) => read.state === 'stale' && read.entry.body === body(`${key}:v1`)), 'no cold window after expireAll')
      reloads.resolve()
      for (const key of keys) {
        await eventually(`${key} to be reloaded`, async () => ((await cache.getOrLoad(key, list, loader.load)).entry.body === body('v2') ? true : undefined))
      }
      for (let request = 0; request < 10; request += 1) {
        for (const key of keys) assert.equal((await cache.getOrLoad(key, list, loader.load)).state, 'hit')
      }
      assert.ok(loader.calls <= keys.length, `loader ran ${loader.calls} times for ${keys.length} keys`)
    })

    test('expire() makes one key stale; delete() and clear() make keys cold', async () => {
      const cache = await open()
      await cache.getOrLoad('x', list, async () => 'x1')
      await cache.getOrLoad('y', list, async () => 'y1')
      await cache.getOrLoad('q', search, async () => 'q1')

      await cache.expire('x')
      const expired = await cache.getOrLoad('x', list, async () => 'x2')
      assert.deepEqual([expired.state, expired.entry.body], ['stale', body('x1')])
      assert.equal((await cache.getOrLoad('y', list, async () => 'y2')).state, 'hit')

      await cache.delete('y')
      assert.equal((await cache.getOrLoad('y', list, async () => 'y3')).state, 'miss')

      await cache.clear()
      assert.equal((await cache.getOrLoad('y', list, async () => 'y4')).state, 'miss')
      assert.equal((await cache.getOrLoad('q', search, async () => 'q2')).state, 'miss')
    })

    test('local-only keys are cached in a bounded in-process LRU and never written to Redis', async () => {
      const cache = await open({ localOnlyMaxItems: 20 })
      const first = await cache.getOrLoad('search?q=harbour', search, async () => ['a'])
      const second = await cache.getOrLoad('search?q=harbour', search, async () => assert.fail('cached'))
      assert.deepEqual([first.state, second.state], ['miss', 'hit'])
      for (let index = 0; index < 50; index += 1) await cache.getOrLoad(`search?q=random${index}`, search, async () => index)
      assert.ok((await cache.stats()).localOnlyKeys <= 20)

      await cache.getOrLoad('list:shared', list, async () => 'shared')
      if (raw) {
        const stored = await keysUnder(raw, cache.redisKeyPrefix)
        assert.ok(stored.some((key) => key.endsWith('list:shared')), 'shared keys do reach Redis')
        assert.ok(!stored.some((key) => key.includes('search?q=')), `local-only keys leaked to Redis: ${stored.join(', ')}`)
        assert.equal(await raw.exists(`${cache.redisKeyPrefix}:search?q=harbour`), 0)
      }
    })

    describe('admission to the shared tier', () => {
      const admission = { minHits: 2, window: 1000, maxKeys: 3, maxBytes: 1024 * 1024 }
      const inRedis = async (cache: ResponseCache, key: string): Promise<boolean> => (raw ? (await raw.exists(`${cache.redisKeyPrefix}:${key}`)) === 1 : cache.l1Holds(key))
      const withL1 = configuration.options.l1 !== false

      test('a key asked for once is served from the local store only; asked for again it is promoted without another load', async () => {
        const cache = await open({ admission })
        const loader = countingLoader(() => ({ once: true }))
        const first = await cache.getOrLoad('list:once', list, loader.load)
        assert.equal(first.state, 'miss')
        assert.equal(await inRedis(cache, 'list:once'), false, 'a one-off key must not reach the shared tier')
        assert.equal(cache.l1Holds('list:once'), false)
        const second = await cache.getOrLoad('list:once', list, loader.load)
        assert.deepEqual([second.state, second.entry.body, loader.calls], ['hit', body({ once: true }), 1])
        assert.equal(await inRedis(cache, 'list:once'), true, 'a repeated key is admitted')
        if (withL1) assert.equal(cache.l1Holds('list:once'), true)
        const third = await cache.getOrLoad('list:once', list, loader.load)
        assert.deepEqual([third.state, loader.calls], ['hit', 1])
      })

      test('a key in probation past its TTL is served stale, also while its loader fails, and promoted once reloaded', async () => {
        const cache = await open({ admission })
        const first = await cache.getOrLoad('list:p', shortLived, async () => 'v1')
        await pastTtl(first.entry, shortLived)
        const failing = countingLoader(() => {
          throw new Error('database down')
        })
        const stale = await cache.getOrLoad('list:p', shortLived, failing.load)
        assert.deepEqual([stale.state, stale.entry.body], ['stale', body('v1')])
        const reloaded = await eventually('the probation copy to be reloaded', async () => {
          const read = await cache.getOrLoad('list:p', shortLived, async () => 'v2')
          return read.entry.body === body('v2') ? read : undefined
        }, { timeoutMs: 20_000, intervalMs: 100 })
        assert.notEqual(reloaded.state, 'miss')
        await eventually('the key to be promoted to the shared tier', async () => {
          await cache.getOrLoad('list:p', shortLived, async () => 'v3')
          return (await inRedis(cache, 'list:p')) ? true : undefined
        })
      })

      test('warmed keys (refresh) are admitted at once and stay in L1 and Redis through a flood of one-off keys', async () => {
        const cache = await open({ admission, localOnlyMaxItems: 50, l1MaxItems: 100 })
        const warm = ['list:w1', 'list:w2', 'list:w3']
        for (const key of warm) await cache.refresh(key, list, async () => `${key}:warm`)
        for (let index = 0; index < 300; index += 1) await cache.getOrLoad(`list:oneoff${index}`, list, async () => ({ index, filler: 'x'.repeat(200) }))
        for (const key of warm) {
          if (withL1) assert.equal(cache.l1Holds(key), true, `${key} pushed out of L1`)
          assert.equal(await inRedis(cache, key), true)
          const read = await cache.getOrLoad(key, list, async () => assert.fail('a warmed key is a hit'))
          assert.deepEqual([read.state, read.entry.body], ['hit', body(`${key}:warm`)])
        }
        if (raw) {
          const stored = await keysUnder(raw, cache.redisKeyPrefix)
          assert.ok(stored.length <= warm.length + admission.maxKeys, `Redis holds ${stored.length} keys`)
        }
        const stats = await cache.stats()
        assert.ok(stats.localOnlyKeys <= 50)
        assert.ok(stats.admission && stats.admission.warmKeys === 3 && stats.admission.probationLoads >= 290, JSON.stringify(stats.admission))
      })

      test('keys admitted by frequency are bounded; a more frequent newcomer replaces the least recent, which leaves the shared tier', async () => {
        const cache = await open({ admission })
        for (const key of ['list:f0', 'list:f1', 'list:f2']) {
          for (let request = 0; request < 2; request += 1) await cache.getOrLoad(key, list, async () => key)
          assert.equal(await inRedis(cache, key), true)
        }
        // As frequent as the others: not admitted while the budget is full.
        for (let request = 0; request < 2; request += 1) await cache.getOrLoad('list:f3', list, async () => 'f3')
        assert.equal(await inRedis(cache, 'list:f3'), false)
        // More frequent than the least recently used (f0): replaces it.
        await cache.getOrLoad('list:f4', list, async () => 'f4')
        await cache.getOrLoad('list:f4', list, async () => 'f4')
        await cache.getOrLoad('list:f4', list, async () => 'f4')
        assert.equal(await inRedis(cache, 'list:f4'), true)
        await eventually('f0 to leave the shared tier', async () => ((await inRedis(cache, 'list:f0')) ? undefined : true))
        assert.equal(cache.l1Holds('list:f0'), false)
        const stats = await cache.stats()
        assert.equal(stats.admission?.admittedKeys, 3)
        assert.equal(stats.admission?.evictions, 1)
      })

      if (configuration.redisUrl) test('expireAll() never extends how long a key stays in Redis', async () => {
        const cache = await open({ admission })
        const brief: CachePolicy = { name: 'brief', ttlSeconds: 30, graceSeconds: 30 }
        await cache.refresh('list:brief', brief, async () => 'v1')
        const before = await raw!.pttl(`${cache.redisKeyPrefix}:list:brief`)
        assert.ok(before > 0 && before <= 60_000, `PTTL ${before}`)
        assert.ok(await cache.expireAll() >= 1)
        const after = await raw!.pttl(`${cache.redisKeyPrefix}:list:brief`)
        assert.ok(after > 0 && after <= before, `expireAll extended the key from ${before} to ${after} ms`)
        const read = await cache.getOrLoad('list:brief', brief, async () => 'v2')
        assert.deepEqual([read.state, read.entry.body], ['stale', body('v1')])
      })
    })

    test('warm() renews a value of the current generation (no load, a new life), and loads one of another generation, an invalidated one or one with no generation known', async () => {
      const cache = await open()
      const loader = countingLoader((call) => ({ call }))
      assert.equal(await cache.warm('g', list, loader.load), 'loaded', 'no generation known: a plain refresh')
      assert.equal(await cache.warm('g', list, loader.load), 'loaded')
      cache.setGeneration(7)
      assert.equal(await cache.warm('g', list, loader.load), 'loaded', 'stored without a generation')
      assert.equal(await cache.warm('g', list, loader.load), 'renewed')
      assert.equal(loader.calls, 3)
      assert.equal(cache.renewedCount, 1)
      // Renewed later (the clock 50 s ahead of a 60 s TTL): fresh until 110 s, not 60 s.
      assert.equal(await withClockAhead(50_000, () => cache.warm('g', list, loader.load)), 'renewed')
      const later = await withClockAhead(100_000, () => cache.getOrLoad('g', list, loader.load))
      assert.deepEqual([later.state, later.entry.body, loader.calls], ['hit', body({ call: 3 }), 3])

      cache.setGeneration(8)
      assert.equal(await cache.warm('g', list, loader.load), 'loaded', 'another generation')
      assert.equal(await cache.warm('g', list, loader.load), 'renewed')
      await cache.expireAll()
      assert.equal(await cache.warm('g', list, loader.load), 'loaded', 'expireAll() marked it: never reused as it is')
      assert.equal(await cache.warm('g', list, loader.load), 'renewed')
      assert.equal((await cache.getOrLoad('g', list, loader.load)).entry.body, body({ call: 5 }))
      assert.equal(await cache.warm('s', search, loader.load), 'loaded')
      assert.equal(await cache.warm('s', search, loader.load), 'loaded', 'local-only keys are always loaded')
    })

    test('a value bound to the clock is fresh and renewed only until its deadline', async () => {
      const cache = await open()
      cache.setGeneration(1)
      const deadline = Date.now() + 30_000
      const loader = countingLoader((call) => new ClockBound({ call }, deadline))
      assert.equal(await cache.warm('c', list, loader.load), 'loaded')
      assert.equal(await cache.warm('c', list, loader.load), 'renewed')
      // Past the deadline (before the 60 s TTL): served stale while it reloads, and not renewed.
      const read = await withClockAhead(40_000, () => cache.getOrLoad('c', list, loader.load))
      assert.equal(read.state, 'stale')
      assert.equal(await withClockAhead(40_000, () => cache.warm('c', list, loader.load)), 'loaded')
    })

    test('stats() counts hits, misses and stale answers; onEvent() reports each with its policy', async () => {
      const cache = await open()
      const seen: string[] = []
      const unsubscribe = cache.onEvent((policy, state, key) => seen.push(`${policy}:${state}:${key}`))
      await cache.getOrLoad('s', list, async () => 1)
      await cache.getOrLoad('s', list, async () => 2)
      await cache.expire('s')
      await cache.getOrLoad('s', list, async () => 3)
      unsubscribe()
      await cache.getOrLoad('t', list, async () => 4)

      assert.deepEqual(seen, ['list:miss:s', 'list:hit:s', 'list:stale:s'])
      // Redis keys are counted in the background (stats() never scans): ask for a count now.
      await cache.sampleKeyCount()
      const stats = await cache.stats()
      assert.equal(stats.backend, configuration.redisUrl ? 'redis' : 'memory')
      assert.equal(stats.l1, configuration.options.l1 !== false)
      assert.deepEqual([stats.hits, stats.misses, stats.stale, stats.hitRate], [1, 2, 1, 0.5])
      assert.ok(stats.keys >= 2)
      if (configuration.redisUrl) {
        assert.equal(stats.redisReachable, true)
        assert.equal(stats.redisKeys, 2)
      } else {
        assert.equal(stats.redisKeys, undefined)
      }
      assert.equal(cache.status().backend, stats.backend)
      assert.equal(cache.health().ok, true)
    })
  })
}
