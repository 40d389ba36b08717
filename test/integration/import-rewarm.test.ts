// An import re-warms every instance: two runtimes on one database and one Redis prefix (two
// instances of the service). An import through instance A expires the cache everywhere (the
// bus tells B's L1) and re-warms it, so B soon answers with the new data without anyone
// clearing anything on B.
//
// Then generation-stamped values (docs/generations.md) on A: a warmup of unchanged data renews
// every key without a query, a new generation makes the next warmup load again, a value bound to
// the clock is not renewed past its deadline, and clear-and-warmup reloads everything.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { bumpGeneration } from '../../src/schools/import/generation.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { skipUnlessServers, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { closeTestApp, deleteRedisPrefix, eventually, get } from '../helpers/integration.ts'
import { rawRedis } from '../helpers/redis.ts'
import { BANDING_FIXTURE, edbRows, sourceCopy } from '../helpers/source-data.ts'
import { withClockAhead } from '../helpers/wait.ts'

const SCHOOL = '510777000133'
const DAY = 86_400_000

interface FilterOptions {
  filters: Record<string, { code: string; count: number }[]>
}

if (skipUnlessServers('import, invalidate and re-warm', ['postgres', 'redis'])) {
  describe('an import on one instance re-warms the others [postgres, redis]', () => {
    const prefix = uniqueName('rewarm')
    let instanceA: TestApp | undefined
    let instanceB: TestApp | undefined
    const a = (): TestApp => instanceA!
    const b = (): TestApp => instanceB!
    let dir = ''

    /**
     * A run of 'all', with the queries sent while its keys were warmed (from its plan, made once
     * the keys are listed, to its last key: the run's own bookkeeping is not counted) and the
     * values it renewed.
     */
    const measuredRun = async (options: { clearFirst?: boolean } = {}): Promise<{ queries: number; renewed: number; keys: number; warmed: number }> => {
      const { db, cache, runner } = a().runtime
      const renewed = cache.renewedCount
      let planned = 0
      let lastKey = 0
      const listener = { onPlan: () => (planned = db.counter.total), onKey: () => (lastKey = db.counter.total) }
      const summary = await runner.run({ groups: ['all'], trigger: 'test', listener, ...options })
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors))
      return { queries: lastKey - planned, renewed: cache.renewedCount - renewed, keys: summary.keys, warmed: summary.warmed }
    }

    /** The logical expiry written in a key's Redis header. */
    const logicalExpiry = async (key: string): Promise<number> => {
      const redis = rawRedis(testRedisUrl!)
      try {
        const stored = await redis.getBuffer(`${a().runtime.cache.redisKeyPrefix}:${key}`)
        assert.ok(stored, `${key} is in Redis`)
        return (JSON.parse(stored.toString('utf8', 5, 5 + stored.readUInt32BE(1))) as { logicalExpiration: number }).logicalExpiration
      } finally {
        redis.disconnect()
      }
    }


    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'generations-'))
      instanceA = await createTestApp({ backend: 'postgres', redis: true, env: { REDIS_PREFIX: prefix } })
      instanceB = await createTestApp({ database: instanceA.database, redis: true, env: { REDIS_PREFIX: prefix } })
      for (const instance of [a(), b()]) {
        const summary = await instance.runtime.runner.run({ groups: ['all'], trigger: 'test' })
        assert.equal(summary.failed, 0)
      }
    })

    after(async () => {
      // B first: A owns (and drops) the database.
      await instanceB?.close()
      await closeTestApp(instanceA)
      await deleteRedisPrefix(prefix)
      if (dir) await rm(dir, { recursive: true, force: true })
    })

    test('importing banding on A: B lists the banding codes and filters by them', async () => {
      const before = await get(b(), '/api/schools/filters?level=secondary')
      assert.equal(before.headers['x-cache'], 'hit', 'B has the filter options in its L1')
      assert.deepEqual(before.json<FilterOptions>().filters.banding ?? [], [])
      assert.equal((await get(b(), '/api/schools/secondary?banding=1a')).status, 400, 'no banding codes yet')

      const summary = await a().runtime.importBanding(BANDING_FIXTURE)
      assert.equal(summary.unchanged, false)
      assert.ok(summary.schools > 0)

      const options = await eventually(async () => {
        const answer = await get(b(), '/api/schools/filters?level=secondary')
        const banding = answer.json<FilterOptions>().filters.banding ?? []
        return banding.some((option) => option.code === '1a') ? banding : undefined
      }, 15_000, "B's filter options to list banding 1a")
      const band1a = options.find((option) => option.code === '1a')!
      assert.ok(band1a.count > 0)

      const list = await get(b(), '/api/schools/secondary?banding=1a&pageSize=100')
      assert.equal(list.status, 200, list.body)
      const page = list.json<{ total: number; items: { banding: { code: string } | null }[] }>()
      assert.equal(page.total, band1a.count)
      assert.ok(page.items.every((item) => item.banding?.code === '1a'))
      // The import's re-warm on A put the configured banding queries into Redis: B reads them from there.
      assert.equal((await get(b(), '/api/schools/secondary?banding=1a')).headers['x-cache'], 'hit', 'warmed by A after the import')
    })

    test("importing a changed schools file on A: B's detail shows the new phone", async () => {
      const school = edbRows().find((row) => row['SCHOOL LEVEL'] === 'SECONDARY' && /^\d{8}$/.test(row['TELEPHONE'] ?? ''))!
      const schoolNo = school['SCHOOL NO.']!
      const oldPhone = school['TELEPHONE']!
      const newPhone = oldPhone === '29999999' ? '29999998' : '29999999'
      const detailUrl = `/api/schools/${schoolNo}`
      assert.equal((await get(b(), detailUrl)).json().phone, oldPhone)
      assert.equal((await get(b(), detailUrl)).headers['x-cache'], 'hit', 'B holds the old detail')

      const files = await sourceCopy({
        file: 'schools',
        transform: (text) => text.split('\r\n').map((line) => (line.includes(schoolNo) ? line.replace(oldPhone, newPhone) : line)).join('\r\n'),
      })
      try {
        const summary = await a().runtime.importSchools(files)
        assert.equal(summary.unchanged, false)
        assert.deepEqual(summary.changedSchoolNos, [schoolNo])
      } finally {
        await rm(path.dirname(files.schools), { recursive: true, force: true })
      }

      // Details are not re-warmed by default: B serves the old detail as stale once and reloads it.
      await eventually(async () => ((await get(b(), detailUrl)).json().phone === newPhone ? true : undefined), 15_000, `B's detail of ${schoolNo} to show ${newPhone}`)
      assert.equal((await get(a(), detailUrl)).json().phone, newPhone)
    })

    test('a second warmup of unchanged data sends no query for its keys and gives each a new life', async () => {
      const expiryBefore = await logicalExpiry('stats')
      const second = await measuredRun()
      assert.ok(second.keys > 10)
      assert.equal(second.renewed, second.warmed, 'every key renewed')
      assert.equal(second.queries, 0)
      assert.ok((await logicalExpiry('stats')) > expiryBefore, 'the renewed value is fresh for longer')
      assert.equal((await get(a(), '/api/schools/stats')).headers['x-cache'], 'hit')
    })

    test('after an import, the new generation is loaded and served; an import elsewhere is noticed at the next run', async () => {
      const banding = path.join(dir, 'banding.csv')
      await writeFile(banding, `school_no,band\n${SCHOOL},1a\n`)
      // The import expires every value and warms all: everything loaded, nothing renewed.
      const [renewed, queries] = [a().runtime.cache.renewedCount, a().runtime.db.counter.total]
      await a().runtime.importBanding(banding)
      assert.equal(a().runtime.cache.renewedCount, renewed)
      assert.ok(a().runtime.db.counter.total - queries > 10)
      const filters = await get(a(), '/api/schools/filters?level=secondary')
      assert.equal(filters.headers['x-cache'], 'hit')
      assert.deepEqual((filters.json<{ filters: { banding?: { code: string }[] } }>().filters.banding ?? []).map((option) => option.code), ['1a'])

      // Another process imported (the generation moved, nothing here was expired): loaded again.
      await bumpGeneration(a().runtime.db)
      const after = await measuredRun()
      assert.equal(after.renewed, 0)
      assert.ok(after.queries > 10)
      assert.equal((await measuredRun()).renewed, after.warmed, 'and renewed the time after')
    })

    test('a detail that says whether a window is open now is not renewed past the window opening', async () => {
      const opens = new Date(Date.now() + 2 * DAY).toISOString().slice(0, 10)
      const windows = path.join(dir, 'windows.csv')
      await writeFile(windows, `school_no,opens,closes\n${SCHOOL},${opens},2999-12-31\n`)
      await a().runtime.importApplicationWindows(windows)
      const { reads, cache } = a().runtime
      await reads.learnGeneration()
      await reads.warmDetail(SCHOOL)
      const renewed = cache.renewedCount
      await reads.warmDetail(SCHOOL)
      assert.equal(cache.renewedCount, renewed + 1, 'renewed before the window opens')
      await withClockAhead(3 * DAY, () => reads.warmDetail(SCHOOL))
      assert.equal(cache.renewedCount, renewed + 1, 'loaded once the window has opened')
    })

    test('clear-and-warmup loads every key again', async () => {
      const cleared = await measuredRun({ clearFirst: true })
      assert.equal(cleared.renewed, 0)
      assert.ok(cleared.queries > 10)
    })
  })
}
