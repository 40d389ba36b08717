// Pre-compressed bodies on the real app: each Accept-Encoding gets the stored bytes of its
// encoding (brotli, gzip, identity), every one decodes to the identity body, each encoding has
// its own strong ETag and If-None-Match gives 304 per encoding, and Vary says Accept-Encoding.
// With Redis, an instance whose L1 is empty serves the same bytes read from Redis (the L2 format
// carries them). The wire bytes of a page of 20 and of 100 are printed for the README.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { LightMyRequestResponse } from 'fastify'
import { chooseEncoding } from '../../src/http/cached-reply.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, keysUnder, rawRedis } from '../helpers/redis.ts'

const URLS = ['/api/schools/primary', '/api/schools/secondary?pageSize=100', '/api/schools/filters?level=primary', '/api/schools/stats', '/api/schools/primary?q=holy']

function decode(response: LightMyRequestResponse): string {
  const encoding = response.headers['content-encoding']
  if (encoding === 'br') return brotliDecompressSync(response.rawPayload).toString('utf8')
  if (encoding === 'gzip') return gunzipSync(response.rawPayload).toString('utf8')
  assert.equal(encoding, undefined)
  return response.body
}

test('Accept-Encoding: br first, then gzip, else identity; q=0 refuses', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'identity'], ['', 'identity'], ['identity', 'identity'], ['deflate', 'identity'],
    ['gzip', 'gzip'], ['gzip, deflate, br', 'br'], ['gzip, deflate, br, zstd', 'br'], ['BR', 'br'], ['x-gzip', 'gzip'],
    ['br;q=0, gzip', 'gzip'], ['br;q=0.0, gzip;q=0', 'identity'], ['br;q=0.5', 'br'], ['*', 'gzip'], ['*;q=0', 'identity'],
  ]
  // Twice: the second answer for each header is the remembered one.
  for (let round = 1; round <= 2; round++) for (const [header, expected] of cases) assert.equal(chooseEncoding(header), expected, `${JSON.stringify(header)}, round ${round}`)
})

function compressionSuite(title: string, redis: boolean): void {
  describe(title, () => {
    const prefix = uniqueName('compress')
    const apps: TestApp[] = []
    before(async () => {
      apps.push(await createTestApp({ backend: redis ? 'postgres' : 'pglite', redis, env: { REDIS_PREFIX: prefix } }))
    })
    after(async () => {
      for (const app of apps.reverse()) await app.close()
      if (redis) {
        const client = rawRedis(testRedisUrl!)
        await deleteKeysUnder(client, prefix).finally(() => client.disconnect())
      }
    })
    const get = (url: string, headers: Record<string, string> = {}, app = apps[0]!) => app.app.inject({ method: 'GET', url, headers })

    test('every encoding decodes to the identity body, with its own ETag, and Vary: Accept-Encoding', async (t) => {
      for (const url of URLS) {
        const identity = await get(url)
        assert.equal(identity.statusCode, 200, url)
        assert.equal(identity.headers['content-encoding'], undefined)
        const etag = String(identity.headers.etag)
        const sizes: string[] = [`identity ${identity.rawPayload.length}`]
        for (const [accept, encoding] of [['gzip', 'gzip'], ['gzip, deflate, br', 'br']] as const) {
          const response = await get(url, { 'accept-encoding': accept })
          assert.equal(response.statusCode, 200, url)
          assert.equal(response.headers['content-encoding'], encoding, url)
          assert.equal(decode(response), identity.body, `${url} ${encoding} decodes to the identity body`)
          assert.equal(response.headers.etag, `${etag.slice(0, -1)}-${encoding}"`, url)
          assert.match(String(response.headers.vary), /Accept-Encoding/, url)
          assert.ok(response.rawPayload.length < identity.rawPayload.length, `${url}: ${encoding} is smaller`)
          sizes.push(`${encoding} ${response.rawPayload.length}`)
        }
        assert.match(String(identity.headers.vary), /Accept-Encoding/)
        t.diagnostic(`${url}: ${sizes.join(', ')} bytes`)
      }
    })

    test('If-None-Match gives 304 for the ETag of the encoding asked for, and only for it', async () => {
      const url = '/api/schools/secondary?pageSize=100'
      const etags: Record<string, string> = {}
      for (const accept of ['', 'gzip', 'br']) etags[accept] = String((await get(url, accept ? { 'accept-encoding': accept } : {})).headers.etag)
      assert.equal(new Set(Object.values(etags)).size, 3, 'three distinct ETags')
      for (const accept of ['', 'gzip', 'br']) {
        const headers: Record<string, string> = accept ? { 'accept-encoding': accept } : {}
        const notModified = await get(url, { ...headers, 'if-none-match': etags[accept]! })
        assert.equal(notModified.statusCode, 304, `accept ${accept || 'identity'}`)
        assert.equal(notModified.rawPayload.length, 0)
        assert.equal(notModified.headers.etag, etags[accept])
        assert.match(String(notModified.headers.vary), /Accept-Encoding/)
        for (const other of ['', 'gzip', 'br'].filter((candidate) => candidate !== accept)) {
          const changed = await get(url, { ...headers, 'if-none-match': etags[other]! })
          assert.equal(changed.statusCode, 200, `accept ${accept || 'identity'} with the ${other || 'identity'} ETag`)
        }
      }
    })

    if (redis) test('another instance with an empty L1 serves the same bytes from Redis', async () => {
      const url = '/api/schools/primary?district=sha-tin'
      // Asked twice: a key enters the shared tier when traffic repeats it (admission).
      await get(url, { 'accept-encoding': 'br' })
      const first = await get(url, { 'accept-encoding': 'br' })
      assert.equal(first.statusCode, 200)
      const client = rawRedis(testRedisUrl!)
      try {
        const key = (await keysUnder(client, apps[0]!.runtime.cache.redisKeyPrefix)).find((candidate) => candidate.endsWith('list:primary?district=sha-tin'))
        assert.ok(key, 'the list is in Redis')
        const raw = await client.getBuffer(key)
        assert.equal(raw?.[0], 0x42, 'stored as the binary entry format')
      } finally {
        client.disconnect()
      }
      apps.push(await createTestApp({ backend: 'postgres', redis: true, database: apps[0]!.database, env: { REDIS_PREFIX: prefix } }))
      const queries = apps[1]!.runtime.db.counter.total
      for (const accept of ['br', 'gzip', '']) {
        const mine = await get(url, accept ? { 'accept-encoding': accept } : {})
        const theirs = await get(url, accept ? { 'accept-encoding': accept } : {}, apps[1])
        assert.equal(theirs.statusCode, 200)
        assert.ok(theirs.rawPayload.equals(mine.rawPayload), `same ${accept || 'identity'} bytes from Redis`)
        assert.equal(theirs.headers.etag, mine.headers.etag)
      }
      assert.ok(apps[1]!.runtime.db.counter.total - queries <= 2, 'served from Redis, not loaded again (filter options aside)')
    })
  })
}

compressionSuite('pre-compressed bodies [pglite, memory]', false)
if (testRedisUrl && process.env.TEST_DATABASE_URL) compressionSuite('pre-compressed bodies [postgres, redis]', true)
