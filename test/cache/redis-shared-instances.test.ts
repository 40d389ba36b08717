// Two cache instances (two app processes, in effect) sharing one Redis: a change made through
// one must reach the other's L1 through the bus. B always has the key fresh in its L1 first, so
// only a bus message can make it answer differently; the test polls B until it does.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { createResponseCache, type CachePolicy, type ResponseCache } from '../../src/cache/response-cache.ts'
import { testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'
import { countingLoader, eventually } from './support.ts'

const list: CachePolicy = { name: 'list', ttlSeconds: 300, graceSeconds: 3600 }
const body = (value: unknown): string => JSON.stringify(value)
const mustNotLoad = async (): Promise<never> => assert.fail('this instance must answer from what the other one stored')

describe('two instances sharing Redis and the bus', { skip: testRedisUrl ? false : 'no Redis in this test run' }, () => {
  let raw: Redis
  let a: ResponseCache
  let b: ResponseCache

  before(() => {
    raw = rawRedis(testRedisUrl!)
  })
  afterEach(async () => {
    await deleteKeysUnder(raw, a.redisKeyPrefix)
    await Promise.all([a.close(), b.close()])
  })
  after(() => {
    raw.disconnect()
  })

  /** A and B with a fresh prefix, both holding `key` = v1 in L1 (A loaded it, B read it from Redis). */
  async function twoWarmInstances(key: string): Promise<void> {
    const prefix = uniqueName('cache_shared')
    a = await createResponseCache({ prefix, redisUrl: testRedisUrl })
    b = await createResponseCache({ prefix, redisUrl: testRedisUrl })
    assert.equal((await a.getOrLoad(key, list, async () => 'v1')).state, 'miss')
    const seenByB = await b.getOrLoad(key, list, mustNotLoad)
    assert.deepEqual([seenByB.state, seenByB.entry.body], ['hit', body('v1')])
  }

  test("a refresh on A replaces the value in B's L1", async () => {
    await twoWarmInstances('k')
    await a.refresh('k', list, async () => 'v2')
    const read = await eventually('B to answer v2', async () => {
      const current = await b.getOrLoad('k', list, mustNotLoad)
      return current.entry.body === body('v2') ? current : undefined
    })
    assert.equal(read.state, 'hit')
  })

  test("expireAll on A makes B serve its copy stale, reload once, then serve the new value", async () => {
    await twoWarmInstances('k')
    const reloadOnB = countingLoader(() => 'v3')
    await a.expireAll()
    const stale = await eventually("B's L1 copy to be expired", async () => {
      const current = await b.getOrLoad('k', list, reloadOnB.load)
      return current.state === 'stale' ? current : undefined
    })
    assert.equal(stale.entry.body, body('v1'))
    await eventually('B to serve the reloaded value', async () => ((await b.getOrLoad('k', list, reloadOnB.load)).entry.body === body('v3') ? true : undefined))
    assert.equal(reloadOnB.calls, 1)
    // B's reload went to Redis and, through the bus, to A.
    const seenByA = await eventually('A to answer v3', async () => {
      const current = await a.getOrLoad('k', list, mustNotLoad)
      return current.entry.body === body('v3') ? current : undefined
    })
    assert.equal(seenByA.state, 'hit')
  })

  test("delete and clear on A make the key cold on B", async () => {
    await twoWarmInstances('k')
    await a.delete('k')
    await eventually('B to miss after delete', async () => ((await b.getOrLoad('k', list, async () => 'v4')).state === 'miss' ? true : undefined))
    await a.clear()
    await eventually('B to miss after clear', async () => ((await b.getOrLoad('k', list, async () => 'v5')).state === 'miss' ? true : undefined))
  })
})
