// The Redis-only hit path reads an entry in its compact form: Redis cuts the identity bytes out
// (a script), the entry comes back with every encoding decoding to the stored JSON and the same
// ETags, Redis keeps the full entry, and values in any other format come back as they are.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import zlib from 'node:zlib'
import type { Redis } from 'ioredis'
import { CacheEntry, createEntry } from '../../src/cache/cache-entry.ts'
import { entrySerializer } from '../../src/cache/entry-serializer.ts'
import { MAX_KEYS_PER_READ, RedisFastPath } from '../../src/cache/redis-fast-path.ts'
import { skipUnlessServers, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'

const SUITE = 'Redis fast path: compact reads'

if (skipUnlessServers(SUITE, ['redis'])) {
  describe(SUITE, () => {
    const prefix = uniqueName('fast_path')
    let redis: Redis
    let settled = true
    let path: RedisFastPath

    before(() => {
      redis = rawRedis(testRedisUrl!)
      path = new RedisFastPath(redis, prefix, () => settled)
    })
    after(async () => {
      await deleteKeysUnder(redis, prefix)
      redis.disconnect()
    })

    async function store(key: string, value: unknown, tags?: string[]): Promise<{ entry: CacheEntry; stored: Buffer }> {
      const entry = await createEntry(value, Date.now())
      const stored = entrySerializer.serialize({ value: entry, createdAt: Date.now(), logicalExpiration: Date.now() + 60_000, ...(tags ? { tags } : {}) }) as unknown as Buffer
      await redis.set(`${prefix}:${key}`, stored)
      return { entry, stored }
    }

    function assertSameEntry(read: CacheEntry | undefined, entry: CacheEntry): void {
      assert.ok(read instanceof CacheEntry)
      assert.ok(read.identity.equals(entry.identity), 'identity: the gzip bytes decompressed')
      assert.ok(read.gzip.equals(entry.gzip) && read.br.equals(entry.br))
      assert.equal(zlib.brotliDecompressSync(read.br).toString('utf8'), entry.identity.toString('utf8'))
      assert.deepEqual([read.etag, read.gzipEtag, read.brEtag, read.storedAt], [entry.etag, entry.gzipEtag, entry.brEtag, entry.storedAt])
    }

    test('reads an entry without its identity bytes, and Redis keeps the full entry', async () => {
      const value = { items: Array.from({ length: 50 }, (_, i) => ({ name: `學校 School ${i}` })) }
      const { entry, stored } = await store('page', value)
      const read = await path.fresh('page')
      assertSameEntry(read, entry)
      assert.ok((await redis.getBuffer(`${prefix}:page`))!.equals(stored), 'the stored value is unchanged')
      // What the script returns is the header and the compressed bytes only.
      const [parts] = await (redis as Redis & { readCompactEntriesBuffer(count: number, ...keys: string[]): Promise<Buffer[][]> }).readCompactEntriesBuffer(1, `${prefix}:page`)
      assert.ok(parts)
      assert.equal(parts.length, 2)
      assert.equal(parts[0]!.byteLength + parts[1]!.byteLength, stored.byteLength - entry.identity.byteLength)
      assert.ok(parts[1]!.equals(Buffer.concat([entry.gzip, entry.br])))
    })

    test('a header longer than the first read (many tags) is read whole', async () => {
      const tags = Array.from({ length: 40 }, (_, i) => `tag-${i}-${'x'.repeat(20)}`)
      const { entry } = await store('tagged', { tagged: true }, tags)
      assertSameEntry(await path.fresh('tagged'), entry)
    })

    /** Counts the script calls `run` makes on the connection (ioredis sends each command through sendCommand). */
    async function scriptCalls<T>(run: () => Promise<T>): Promise<{ calls: number; result: T }> {
      const send = redis.sendCommand.bind(redis)
      let calls = 0
      redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
        if (command.name === 'evalsha' || command.name === 'eval') calls += 1
        return send(command, stream)
      }) as Redis['sendCommand']
      try {
        const result = await run()
        return { calls, result }
      } finally {
        redis.sendCommand = send
      }
    }

    test('keys asked for in one turn are read in one script call, a key asked for by several requests once', async () => {
      const pages = await Promise.all(['a', 'b', 'c'].map((name) => store(`turn-${name}`, { page: name })))
      await redis.rpush(`${prefix}:turn-list`, 'not a string')
      const { calls, result } = await scriptCalls(() => Promise.all([
        path.fresh('turn-a'), path.fresh('turn-b'), path.fresh('turn-a'), path.fresh('turn-missing'), path.fresh('turn-list'), path.fresh('turn-c'), path.fresh('turn-a'),
      ]))
      assert.equal(calls, 1)
      const [a1, b, a2, missing, list, c, a3] = result
      assertSameEntry(a1, pages[0]!.entry)
      assertSameEntry(b, pages[1]!.entry)
      assertSameEntry(c, pages[2]!.entry)
      assert.ok(a1 === a2 && a2 === a3, 'one read of turn-a answers its three requests')
      assert.equal(missing, undefined)
      assert.equal(list, undefined, 'a key of another type is no hit, and spoils no other key of its call')
      // The next turn is a new call.
      const next = await scriptCalls(() => path.fresh('turn-b'))
      assert.equal(next.calls, 1)
      assertSameEntry(next.result, pages[1]!.entry)
    })

    test(`more than ${MAX_KEYS_PER_READ} keys in one turn take several calls, each answered`, async () => {
      const count = MAX_KEYS_PER_READ * 2 + 5
      const pages = await Promise.all(Array.from({ length: count }, (_, index) => store(`many-${index}`, { index })))
      const { calls, result } = await scriptCalls(() => Promise.all(pages.map((_, index) => path.fresh(`many-${index}`))))
      assert.equal(calls, 3)
      result.forEach((read, index) => assertSameEntry(read, pages[index]!.entry))
    })

    test('an empty body, a missing key, a value past its logical expiry, a non-entry value and an unsettled Redis give no fast hit', async () => {
      const { entry } = await store('empty', '')
      assertSameEntry(await path.fresh('empty'), entry)
      assert.equal(await path.fresh('missing'), undefined)
      const expired = await createEntry({ old: true }, Date.now() - 120_000)
      await redis.set(`${prefix}:expired`, entrySerializer.serialize({ value: expired, createdAt: Date.now() - 120_000, logicalExpiration: Date.now() - 60_000 }) as unknown as Buffer)
      assert.equal(await path.fresh('expired'), undefined)
      await redis.set(`${prefix}:json`, entrySerializer.serialize({ value: { plain: 1 }, createdAt: Date.now(), logicalExpiration: Date.now() + 60_000 }) as string)
      assert.equal(await path.fresh('json'), undefined)
      await redis.rpush(`${prefix}:list`, 'not a string')
      assert.equal(await path.fresh('list'), undefined, 'a script error is no hit, not a failure')
      settled = false
      try {
        assert.equal(await path.fresh('empty'), undefined)
      } finally {
        settled = true
      }
    })
  })
}
