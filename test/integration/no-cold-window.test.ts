// No cold window: while the cache is cleared and re-warmed (the admin API, or expireAll plus a
// warmup), clients hammering the warm keys get 200 every time, never a miss, and the database
// sees a number of queries bounded by the keys, not by the requests.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { adminPost, describeEachCacheMode, eventually, get, queriesDuring, warmedUrls, type Answer } from '../helpers/integration.ts'
import type { TestApp } from '../helpers/app.ts'

const LOOPS = 4
/** Each loop sends at least this many requests, far more than there are keys. */
const MIN_REQUESTS_PER_LOOP = 150

interface LoopResult {
  requests: number
  statuses: Map<number, number>
  states: Map<string, number>
  failures: string[]
}

/** Runs `LOOPS` request loops over `urls` until `during` has settled and each loop did its minimum. */
async function hammer(testApp: TestApp, urls: string[], during: () => Promise<void>): Promise<LoopResult> {
  const result: LoopResult = { requests: 0, statuses: new Map(), states: new Map(), failures: [] }
  let settled = false
  const loop = async (offset: number): Promise<void> => {
    for (let sent = 0; !settled || sent < MIN_REQUESTS_PER_LOOP; sent++) {
      const url = urls[(offset + sent) % urls.length]!
      const answer = await get(testApp, url)
      result.requests += 1
      result.statuses.set(answer.status, (result.statuses.get(answer.status) ?? 0) + 1)
      const state = String(answer.headers['x-cache'])
      result.states.set(state, (result.states.get(state) ?? 0) + 1)
      if (answer.status !== 200 || state === 'miss') result.failures.push(`${url}: ${answer.status} ${state} ${answer.body.slice(0, 120)}`)
      // A cache hit through inject is promises only; without a turn of the event loop the loops
      // would starve the warmup's database I/O (a client over a socket always yields).
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const loops = Array.from({ length: LOOPS }, (_, index) => loop(index * 5))
  try {
    await during()
  } finally {
    settled = true
  }
  await Promise.all(loops)
  return result
}

const describeCounts = (result: LoopResult): string => JSON.stringify({ requests: result.requests, statuses: Object.fromEntries(result.statuses), states: Object.fromEntries(result.states) })

describeEachCacheMode('no cold window during clear-and-warmup', (getApp) => {
  const urls = warmedUrls()

  before(async () => {
    const summary = await getApp().runtime.runner.run({ groups: ['all'], trigger: 'test' })
    assert.equal(summary.failed, 0)
    assert.equal(summary.keys, urls.length, 'the test requests exactly the keys the warmup warms')
    for (const url of urls) assert.equal((await get(getApp(), url)).headers['x-cache'], 'hit', url)
  })

  // Per key: the warmup's refresh, at most one background reload started by a stale read, and
  // the filter options each list reload reads; plus the run's own bookkeeping and key listing.
  const queryBound = (): number => urls.length * 3 + 10

  test('POST /api/scheduler/clear-and-warmup under 4 request loops: all 200, no miss, queries bounded by keys', async () => {
    let summary: Answer | undefined
    const { result, queries } = await queriesDuring(getApp(), () => hammer(getApp(), urls, async () => {
      summary = await adminPost(getApp(), '/api/scheduler/clear-and-warmup', {})
    }))
    assert.equal(summary?.status, 200, summary?.body)
    assert.equal(summary!.json().failed, 0)
    assert.deepEqual(result.failures.slice(0, 10), [], describeCounts(result))
    assert.ok(result.requests >= LOOPS * MIN_REQUESTS_PER_LOOP)
    assert.ok(result.requests > 5 * queryBound(), 'enough requests that one query per request would break the bound')
    assert.ok(queries <= queryBound(), `${queries} queries for ${urls.length} keys and ${result.requests} requests (bound ${queryBound()}); ${describeCounts(result)}`)
    assert.ok((result.states.get('stale') ?? 0) > 0, `the loops saw the expired values being replaced: ${describeCounts(result)}`)
  })

  test('expireAll() then a warmup under 4 request loops: all 200, no miss, queries bounded by keys', async () => {
    const { result, queries } = await queriesDuring(getApp(), () => hammer(getApp(), urls, async () => {
      const expired = await getApp().runtime.cache.expireAll()
      assert.ok(expired >= urls.length, `expired ${expired} keys`)
      const summary = await getApp().runtime.runner.run({ groups: ['all'], trigger: 'test' })
      assert.equal(summary.failed, 0)
    }))
    assert.deepEqual(result.failures.slice(0, 10), [], describeCounts(result))
    assert.ok(result.requests > 5 * queryBound())
    assert.ok(queries <= queryBound(), `${queries} queries for ${urls.length} keys and ${result.requests} requests (bound ${queryBound()}); ${describeCounts(result)}`)
  })

  test('after a clear and re-warm every key is a hit again', async () => {
    // Its own clear and run, so it holds whatever ran before it.
    await getApp().runtime.cache.expireAll()
    const summary = await getApp().runtime.runner.run({ groups: ['all'], trigger: 'test' })
    assert.equal(summary.failed, 0)
    for (const url of urls) {
      await eventually(async () => ((await get(getApp(), url)).headers['x-cache'] === 'hit' ? true : undefined), 30_000, `${url} to be a hit`)
    }
  })
})
