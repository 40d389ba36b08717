// The cache as an HTTP client sees it, on the real app: x-cache, ETags and 304s, one key per
// logical query however it is spelled, nothing cached for a 400, free-text search kept out of
// Redis, and a burst of requests for one cold key costing the database one load.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { keysUnder, rawRedis } from '../helpers/redis.ts'
import { testRedisUrl } from '../helpers/env.ts'
import { describeEachCacheMode, get, queriesDuring, type Answer } from '../helpers/integration.ts'

const ok = (answer: Answer, what: string): Answer => {
  assert.equal(answer.status, 200, `${what}: ${answer.body.slice(0, 300)}`)
  return answer
}

describeEachCacheMode('HTTP cache', (getApp, mode) => {
  before(async () => {
    // Every list miss reads the level's filter options to validate its codes; load them once
    // here so each test below measures only its own keys.
    ok(await get(getApp(), '/api/schools/filters?level=primary'), 'primary filters')
    ok(await get(getApp(), '/api/schools/filters?level=secondary'), 'secondary filters')
  })

  test('a first request is a miss, the next a hit with the same body and strong ETag', async () => {
    const first = ok(await get(getApp(), '/api/schools/primary?district=sha-tin'), 'first')
    const second = ok(await get(getApp(), '/api/schools/primary?district=sha-tin'), 'second')
    assert.equal(first.headers['x-cache'], 'miss')
    assert.equal(second.headers['x-cache'], 'hit')
    const etag = String(first.headers.etag)
    assert.match(etag, /^"[^"]+"$/, 'a strong ETag is a quoted string without W/')
    assert.equal(second.headers.etag, etag)
    assert.equal(second.body, first.body)
    assert.equal(first.headers['cache-control'], 'no-cache')
    assert.match(String(first.headers['content-type']), /^application\/json/)
  })

  test('the ETag is stable: a warmup that reloads the same data keeps it', async () => {
    // A warm list query (stats carry their "as of" time, so their body changes on every load).
    const url = '/api/schools/primary?district=kowloon-city'
    const before = ok(await get(getApp(), url), 'list')
    const summary = await getApp().runtime.runner.run({ groups: ['primary'], trigger: 'test' })
    assert.equal(summary.failed, 0)
    const after = ok(await get(getApp(), url), 'list again')
    assert.equal(after.headers['x-cache'], 'hit')
    assert.equal(after.headers.etag, before.headers.etag)
    assert.equal(after.body, before.body)
  })

  test('If-None-Match with the current ETag gets 304 and no body; another ETag gets the body', async () => {
    const url = '/api/schools/secondary?district=eastern'
    const fresh = ok(await get(getApp(), url), 'first')
    const etag = String(fresh.headers.etag)
    const notModified = await get(getApp(), url, { 'if-none-match': etag })
    assert.equal(notModified.status, 304)
    assert.equal(notModified.body, '')
    assert.equal(notModified.headers.etag, etag)
    const listed = await get(getApp(), url, { 'if-none-match': `"something-else", ${etag}` })
    assert.equal(listed.status, 304, 'an ETag anywhere in the list matches')
    const other = ok(await get(getApp(), url, { 'if-none-match': '"something-else"' }), 'other etag')
    assert.equal(other.body, fresh.body)
  })

  test('one logical query is one key however it is spelled: the equivalents are hits without queries', async () => {
    const spellings: [string, string[]][] = [
      ['/api/schools/primary?district=kowloon-city&category=aided', [
        '/api/schools/primary?category=aided&district=kowloon-city',
        '/api/schools/primary?page=1&pageSize=20&category=aided&district=kowloon-city',
        '/api/schools/primary?district=kowloon-city&pageSize=20&category=aided&page=1',
      ]],
      ['/api/schools/secondary?district=sha-tin,kowloon-city', [
        '/api/schools/secondary?district=kowloon-city&district=sha-tin',
        '/api/schools/secondary?district=sha-tin&district=kowloon-city',
        '/api/schools/secondary?district=kowloon-city,sha-tin,kowloon-city',
        '/api/schools/secondary?district=kowloon-city&district=sha-tin,kowloon-city&page=1',
      ]],
      ['/api/schools/secondary?page=3', ['/api/schools/secondary?pageSize=20&page=3', '/api/schools/secondary?page=3&pageSize=20']],
    ]
    for (const [canonical, equivalents] of spellings) {
      const first = ok(await get(getApp(), canonical), canonical)
      assert.equal(first.headers['x-cache'], 'miss', canonical)
      for (const url of equivalents) {
        const { result, queries } = await queriesDuring(getApp(), () => get(getApp(), url))
        ok(result, url)
        assert.equal(result.headers['x-cache'], 'hit', url)
        assert.equal(queries, 0, `${url} must not query the database`)
        assert.equal(result.body, first.body, url)
      }
    }
    // A different query is a different key.
    const page2 = ok(await get(getApp(), '/api/schools/primary?page=2'), 'page 2')
    assert.equal(page2.headers['x-cache'], 'miss')
  })

  test('400 answers are never cached: many invalid requests add no key', async () => {
    const invalid = [
      '/api/schools/primary?district=atlantis',
      '/api/schools/primary?district=sha-tin,atlantis',
      '/api/schools/secondary?banding=9z',
      '/api/schools/primary?page=999',
      '/api/schools/primary?district=sha-tin&page=500',
      '/api/schools/primary?pageSize=101',
      '/api/schools/primary?page=0',
      '/api/schools/primary?colour=blue',
      '/api/schools/primary?district=Sha%20Tin',
      '/api/schools/filters?level=kindergarten',
      '/api/schools/stats?extra=1',
      '/api/schools/primary?q=%20%20',
    ]
    const keysBefore = (await getApp().runtime.cache.stats()).keys
    for (let round = 0; round < 5; round++) {
      for (const url of invalid) {
        const answer = await get(getApp(), url)
        assert.equal(answer.status, 400, `${url}: ${answer.body}`)
        assert.equal(answer.headers['x-cache'], undefined, `${url} has no x-cache`)
        const body = answer.json<{ error: string; parameter?: string }>()
        assert.ok(body.parameter, `${url} names the parameter: ${answer.body}`)
      }
    }
    assert.equal((await getApp().runtime.cache.stats()).keys, keysBefore)
    // Still 400 after all that, and no shared key: a page past the end is only remembered in process
    // memory for CACHE_TTL_ERRORS, so repeating it costs no query (test/schools/known-errors.test.ts).
    const { result, queries } = await queriesDuring(getApp(), () => get(getApp(), '/api/schools/primary?page=999'))
    assert.equal(result.status, 400)
    assert.equal(queries, 0, 'a page past the end is remembered briefly, not asked again')
  })

  if (mode === 'redis') test('free-text searches are cached locally and never reach Redis', async () => {
    const redis = rawRedis(testRedisUrl!)
    try {
      const prefix = getApp().runtime.cache.redisKeyPrefix
      const before = new Set(await keysUnder(redis, prefix))
      const searches = ['/api/schools/primary?q=Tin', '/api/schools/secondary?q=%E8%81%96&district=sha-tin', '/api/schools/primary?q=st%20paul']
      for (const url of searches) {
        // No x-cache on a search: it would tell any client whether someone else searched that term.
        assert.equal(ok(await get(getApp(), url), url).headers['x-cache'], undefined, url)
        const again = await queriesDuring(getApp(), () => get(getApp(), url))
        assert.equal(ok(again.result, url).headers['x-cache'], undefined, `${url} again`)
        assert.equal(again.queries, 0, `${url} again is served from the local cache`)
      }
      const added = (await keysUnder(redis, prefix)).filter((key) => !before.has(key))
      assert.deepEqual(added, [], 'no Redis key for a search')
      const searchKeys = (await keysUnder(redis, getApp().config.redisPrefix)).filter((key) => /[?&]q=/.test(key))
      assert.deepEqual(searchKeys, [])
      // A normal list query asked for twice (admitted: see admission.ts) does reach Redis, so the scan above looks in the right place.
      ok(await get(getApp(), '/api/schools/primary?district=tai-po'), 'tai-po')
      ok(await get(getApp(), '/api/schools/primary?district=tai-po'), 'tai-po again')
      assert.ok((await keysUnder(redis, prefix)).some((key) => key.endsWith('list:primary?district=tai-po')))
    } finally {
      redis.disconnect()
    }
  })

  test('50 concurrent requests for one cold key cost the database what one cold request costs', async () => {
    const single = await queriesDuring(getApp(), () => get(getApp(), '/api/schools/primary?district=wan-chai'))
    assert.equal(ok(single.result, 'single').headers['x-cache'], 'miss')
    assert.ok(single.queries >= 1)

    const url = '/api/schools/primary?district=wong-tai-sin'
    const burst = await queriesDuring(getApp(), () => Promise.all(Array.from({ length: 50 }, () => get(getApp(), url))))
    assert.equal(burst.queries, single.queries, 'the burst loads the key once')
    const etags = new Set(burst.result.map((answer) => ok(answer, url).headers.etag))
    assert.equal(etags.size, 1)
    const states = burst.result.map((answer) => answer.headers['x-cache'])
    assert.equal(states.filter((state) => state === 'miss').length, 1, `one request loads, the others wait for it: ${states.join(',')}`)
    assert.ok(states.every((state) => state === 'miss' || state === 'hit'))
  })
})
