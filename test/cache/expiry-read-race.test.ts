// A read on the instance that is expiring a key, landing inside bentocache's expire(): that marks
// the L1 copy expired first and rewrites the Redis value after (a GET, then a SET). The read finds
// its L1 copy expired and Redis not yet, and bentocache copies Redis's still-fresh value back into
// L1 as fresh. No bus message ever comes back to the instance that expired, so without a second
// expiry of its L1 copy it serves the old value for the rest of its TTL (the import-banding case
// of test/scale/invalidation.test.ts: the import runs on the instance being polled). Likewise a
// copy in probation (a key not yet admitted to the shared tier) stored before an expiry of
// everything must not be promoted to the shared tier as fresh while that expiry is going on.
//
// Deterministic: expire()'s L1 step is synchronous and its GET is sent at once, so a read started
// right after it sends its GET before expire() can send its SET; with expireAll(), a read on every
// turn of the event loop meets the same window for the one key there is.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { createResponseCache, type CachePolicy, type ResponseCache } from '../../src/cache/response-cache.ts'
import { testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'
import { countingLoader, eventually } from './support.ts'

const list: CachePolicy = { name: 'list', ttlSeconds: 300, graceSeconds: 3600 }
const body = (value: unknown): string => JSON.stringify(value)
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('reads racing an expiry on the same instance (memory + Redis)', { skip: testRedisUrl ? false : 'no Redis in this test run' }, () => {
  let raw: Redis
  let cache: ResponseCache | undefined

  before(() => {
    raw = rawRedis(testRedisUrl!)
  })
  afterEach(async () => {
    if (!cache) return
    await deleteKeysUnder(raw, cache.redisKeyPrefix)
    await cache.close()
    cache = undefined
  })
  after(() => {
    raw.disconnect()
  })

  async function cacheHolding(key: string, value: string): Promise<ResponseCache> {
    cache = await createResponseCache({ prefix: uniqueName('cache_expiry_race'), redisUrl: testRedisUrl })
    assert.equal((await cache.getOrLoad(key, list, async () => value)).state, 'miss')
    return cache
  }

  /** After the expiry: the old value may be served stale (reloading), never as a fresh hit; the reload lands. */
  async function assertExpired(cache: ResponseCache, key: string, loader: { load: () => Promise<unknown> }): Promise<void> {
    await nextTurn()
    const next = await cache.getOrLoad(key, list, loader.load)
    assert.notDeepEqual([next.state, next.entry.body], ['hit', body('old')], 'the expired value came back as fresh')
    await eventually('the reload to land', async () => ((await cache.getOrLoad(key, list, loader.load)).entry.body === body('new') ? true : undefined))
  }

  test('expire(): a read between the L1 and the Redis step does not bring the old value back as fresh', async () => {
    const cache = await cacheHolding('k', 'old')
    const loader = countingLoader(() => 'new')
    const expiring = cache.expire('k')
    const racing = await cache.getOrLoad('k', list, loader.load)
    await expiring
    // The read did fall into the window: its L1 copy was already expired and Redis not yet.
    assert.equal(loader.calls, 0)
    assert.deepEqual([racing.state, racing.entry.body], ['hit', body('old')])
    await assertExpired(cache, 'k', loader)
    assert.equal(loader.calls, 1)
  })

  test('expireAll(): reads on every turn of the event loop meanwhile do not bring the old value back as fresh', async () => {
    const cache = await cacheHolding('k', 'old')
    const loader = countingLoader(() => 'new')
    let done = false
    const expiring = cache.expireAll().finally(() => {
      done = true
    })
    const states = new Set<string>()
    while (!done) {
      await nextTurn()
      const read = await cache.getOrLoad('k', list, loader.load)
      states.add(`${read.state} ${read.entry.body}`)
    }
    await expiring
    assert.ok(states.has(`hit ${body('old')}`), `reads before the expiry are hits: ${[...states].join(', ')}`)
    await assertExpired(cache, 'k', loader)
  })

  test('expireAll(): a copy in probation from before the expiry is not promoted to the shared tier meanwhile', async () => {
    cache = await createResponseCache({ prefix: uniqueName('cache_expiry_race'), redisUrl: testRedisUrl, admission: { minHits: 2, window: 10_000, maxKeys: 1000, maxBytes: 64 * 1024 * 1024 } })
    // Warmed keys keep the expiry busy; the local store (probation) is expired after them.
    for (let index = 0; index < 300; index += 1) await cache.refresh(`s${index}`, list, async () => index)
    assert.equal((await cache.getOrLoad('p', list, async () => 'old')).state, 'miss', 'asked for once: loaded into probation')
    const expiring = cache.expireAll()
    // The most recently used warmed key is expired first: from then on, the keys are listed and
    // the probation copy is still fresh for many round trips.
    while ((await cache.getOrLoad('s299', list, async () => 'reloaded')).state !== 'stale') await nextTurn()
    const loader = countingLoader(() => 'new')
    const promotedOrLoaded = await cache.getOrLoad('p', list, loader.load)
    await expiring
    const next = await cache.getOrLoad('p', list, loader.load)
    assert.notDeepEqual([next.state, next.entry.body], ['hit', body('old')], `the copy from before the expiry passes for fresh (the read meanwhile: ${promotedOrLoaded.state})`)
  })
})
