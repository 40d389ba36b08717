// The behaviour every configuration of the response cache must show, registered once per
// configuration (memory only; memory + Redis; Redis without L1), in the manner of bentocache's
// own driver test suite. Each test opens caches with a prefix of its own and the suite clears
// their keys and closes their connections after it (contract-support.ts). Admission to the
// shared tier has a contract of its own (response-cache-admission.contract.ts).
import assert from 'node:assert/strict'
import { describe, mock, test } from 'node:test'
import { ClockBound } from '../../src/cache/response-cache.ts'
import { keysUnder } from '../helpers/redis.ts'
import { withClockAhead } from '../helpers/wait.ts'
import { body, list, pastTtl, search, shortLived, useContractCaches, type ContractConfiguration } from './contract-support.ts'
import { countingLoader, deferred, eventually } from './support.ts'

export function registerResponseCacheContract(configuration: ContractConfiguration): void {
  describe(`response cache contract [${configuration.name}]`, () => {
    const caches = useContractCaches(configuration)
    const open = caches.open.bind(caches)

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
      if (caches.raw) {
        const stored = await keysUnder(caches.raw, cache.redisKeyPrefix)
        assert.ok(stored.some((key) => key.endsWith('list:shared')), 'shared keys do reach Redis')
        assert.ok(!stored.some((key) => key.includes('search?q=')), `local-only keys leaked to Redis: ${stored.join(', ')}`)
        assert.equal(await caches.raw.exists(`${cache.redisKeyPrefix}:search?q=harbour`), 0)
      }
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
      cache.peek('g', list)
      assert.equal(await withClockAhead(50_000, () => cache.warm('g', list, loader.load)), 'renewed')
      // The in-memory copy was renewed in place: the synchronous path sees its new life too.
      const peeked = await withClockAhead(100_000, async () => cache.peek('g', list))
      if (configuration.options.l1 === false) assert.equal(peeked, undefined)
      else assert.equal(peeked?.body, body({ call: 3 }), 'peek() kept the parse of the copy from before its renewal')
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
