// Admission to the shared tier, for every configuration of the response cache: a key enters
// Redis (and L1) only once traffic repeats it, within a budget of keys and bytes; until then it
// is served from the local store (docs/cache.md, "Tiers and admission").
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { CachePolicy, ResponseCache } from '../../src/cache/response-cache.ts'
import { body, list, pastTtl, shortLived, useContractCaches, type ContractConfiguration } from './contract-support.ts'
import { keysUnder } from '../helpers/redis.ts'
import { countingLoader, eventually } from './support.ts'

export function registerAdmissionContract(configuration: ContractConfiguration): void {
  describe(`response cache admission contract [${configuration.name}]`, () => {
    const caches = useContractCaches(configuration)
    const open = caches.open.bind(caches)

    describe('admission to the shared tier', () => {
      const admission = { minHits: 2, window: 1000, maxKeys: 3, maxBytes: 1024 * 1024 }
      const inRedis = async (cache: ResponseCache, key: string): Promise<boolean> => (caches.raw ? (await caches.raw.exists(`${cache.redisKeyPrefix}:${key}`)) === 1 : cache.l1Holds(key))
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
        if (caches.raw) {
          const stored = await keysUnder(caches.raw, cache.redisKeyPrefix)
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
        const before = await caches.raw!.pttl(`${cache.redisKeyPrefix}:list:brief`)
        assert.ok(before > 0 && before <= 60_000, `PTTL ${before}`)
        assert.ok(await cache.expireAll() >= 1)
        const after = await caches.raw!.pttl(`${cache.redisKeyPrefix}:list:brief`)
        assert.ok(after > 0 && after <= before, `expireAll extended the key from ${before} to ${after} ms`)
        const read = await cache.getOrLoad('list:brief', brief, async () => 'v2')
        assert.deepEqual([read.state, read.entry.body], ['stale', body('v1')])
      })
    })
  })
}
